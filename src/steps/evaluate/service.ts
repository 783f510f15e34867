import * as z from 'zod';
import { inferenceServiceKeys } from '../../domain/object-layout.js';
import { DyffError, ErrorType } from '../../domain/errors.js';
import { SecretRef } from '../../domain/secrets.js';
import type { ServiceDescription } from '../../domain/service.js';
import type { ObjectStore } from '../../ports/object-store.js';
import { errorMessage, invalidInput } from '../errors.js';

const Adapter = z.object({ kind: z.string(), configuration: z.record(z.string(), z.unknown()) });

/** What the client needs of a ServiceDescription; the rest (command, env) is the session runner's. */
const ClientView = z.object({
  endpoint: z.string(),
  apiKey: SecretRef.optional(),
  interface: z.object({
    inputPipeline: z.array(Adapter).optional(),
    outputPipeline: z.array(Adapter).optional(),
  }),
});
export type ClientView = z.infer<typeof ClientView>;

/** `--service` when given, else `inferenceservices/<id>/service.json` as build-service wrote it. */
export async function loadService(
  store: ObjectStore,
  raw: string | undefined,
  serviceId: string,
): Promise<ClientView> {
  let doc: unknown;
  let where = '--service';
  try {
    if (raw !== undefined) doc = JSON.parse(raw);
    else {
      where = `inferenceservices/${inferenceServiceKeys.description(serviceId)}`;
      doc = JSON.parse(
        (await store.getBuffer('inferenceservices', inferenceServiceKeys.description(serviceId))).toString(
          'utf8',
        ),
      );
    }
  } catch (err) {
    if (err instanceof DyffError && err.type === ErrorType.NotFound) {
      throw invalidInput(
        `${where} not found: build the inference service first, or pass --service`,
        ErrorType.NotFound,
      );
    }
    throw invalidInput(`${where}: not valid JSON: ${errorMessage(err)}`);
  }
  const parsed = ClientView.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw invalidInput(`${where}: not a service description: ${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data satisfies Pick<ServiceDescription, 'endpoint'>;
}

/** A full URL stays as it is (openai, http runners); a path is joined to the session's base URL. */
export function requestUrl(service: ClientView, sessionEndpoint: string | undefined): URL {
  if (/^https?:\/\//.test(service.endpoint)) return new URL(service.endpoint);
  if (!sessionEndpoint) {
    throw invalidInput(
      `--endpoint: required, the service's endpoint ${JSON.stringify(service.endpoint)} is a path on the session`,
    );
  }
  if (!/^https?:\/\//.test(sessionEndpoint))
    throw invalidInput(`--endpoint: expected an http(s) URL, got ${JSON.stringify(sessionEndpoint)}`);
  const path = service.endpoint.startsWith('/') ? service.endpoint : `/${service.endpoint}`;
  return new URL(`${sessionEndpoint.replace(/\/+$/, '')}${path}`);
}
