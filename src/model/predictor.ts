import type { Prediction } from './naive-bayes.js';

/** A text model: the request's `text` → predictions, best first. */
export type TextPredictor = (text: string) => Prediction[];

/** An image model: the decoded bytes of the request's `image` (base64 PNG/JPEG) → predictions, best first. */
export interface ImagePredictor {
  readonly input: 'image';
  /** Rejects with an `ImageInputError` when the bytes are not an image it can use. */
  predict(image: Buffer): Promise<Prediction[]>;
}

export type Predictor = TextPredictor | ImagePredictor;
