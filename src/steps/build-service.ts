import { ErrorType } from '../domain/errors.js';
import { inferenceServiceKeys } from '../domain/object-layout.js';
import type { ServiceDescription } from '../domain/service.js';
import type { InferenceServiceSpec } from '../domain/specs.js';
import type { StepContext } from './context.js';
import { invalidInput } from './errors.js';
import { AdapterConfigError, compilePipeline } from './evaluate/adapters.js';
import { readModelManifest } from './fetch-model.js';
import type { ModelManifest } from './fetch-model/manifest.js';
import { checkUrlNow } from './net/egress-guard.js';

export interface BuildServiceInput {
  /** The InferenceService id: writes `inferenceservices/<id>/service.json`. */
  id: string;
  spec: InferenceServiceSpec;
}

export const serviceDescriptionKey = inferenceServiceKeys.description;

type Adapters = NonNullable<ServiceDescription['interface']['outputPipeline']>;

/** The demo server's `{predictions: [{label, score}]}` as one response record per label, best first. */
const PREDICTIONS_TO_RECORDS: Adapters = [
  { kind: 'ExplodeCollections', configuration: { collections: ['predictions'] } },
  {
    kind: 'TransformJSON',
    configuration: {
      label: '$.predictions.label',
      score: '$.predictions.score',
      _response_index_: '$._response_index_',
    },
  },
];

/** One chat completion choice per response record, its message as `text`. */
const CHOICES_TO_TEXT: Adapters = [
  { kind: 'ExplodeCollections', configuration: { collections: ['choices'] } },
  {
    kind: 'TransformJSON',
    configuration: { text: '$.choices.message.content', _response_index_: '$._response_index_' },
  },
];

/**
 * The build-service step. The embedded builder makes no image: it checks the model is there and writes the
 * ServiceDescription a session runner starts and the evaluation client talks to. The spec's interface pipelines,
 * when given, replace the runner's defaults.
 */
export async function buildService(
  ctx: StepContext,
  { id, spec }: BuildServiceInput,
): Promise<ServiceDescription> {
  const manifest = spec.model === undefined ? undefined : await readModelManifest(ctx, spec.model);
  if (spec.model !== undefined && !manifest) {
    throw invalidInput(`model ${spec.model} not found (NoSuchModel): fetch it first`, ErrorType.NotFound);
  }
  const endpoint = spec.runner.kind === 'standalone' ? undefined : spec.runner.endpoint;
  if (endpoint !== undefined) {
    await checkUrlNow(new URL(endpoint), ctx.sources.egress).catch((err: unknown) => {
      throw invalidInput(`spec.runner.endpoint: ${(err as Error).message}`);
    });
  }
  const description = describeService(id, spec, manifest);
  await ctx.objectStore.put(
    'inferenceservices',
    serviceDescriptionKey(id),
    JSON.stringify(description, null, 2),
    {
      contentType: 'application/json',
    },
  );
  ctx.log.info(
    `${description.runner} service: POST ${description.endpoint}${description.command ? ` (dyffctl ${description.command.join(' ')})` : ''}`,
  );
  return description;
}

function describeService(
  id: string,
  spec: InferenceServiceSpec,
  manifest: ModelManifest | undefined,
): ServiceDescription {
  const { runner } = spec;
  const inputPipeline = checkedInput(spec.interface?.inputPipeline);
  const outputPipeline = spec.interface?.outputPipeline;
  checkPipeline(outputPipeline, 'spec.interface.outputPipeline');
  if (runner.apiKey && runner.kind === 'standalone')
    throw invalidInput('spec.runner.apiKey: only for runner openai or http (a remote endpoint)');
  for (const field of ['accelerator', 'resources', 'spot'] as const)
    if (runner[field] !== undefined && runner.kind !== 'standalone')
      throw invalidInput(`spec.runner.${field}: only for runner standalone (a session this platform runs)`);
  const base = {
    serviceId: id,
    runner: runner.kind,
    model: spec.model,
    env: runner.env,
    apiKey: runner.apiKey,
  };
  switch (runner.kind) {
    case 'standalone': {
      if (spec.model === undefined)
        throw invalidInput('spec.model: required for runner standalone (the model to serve)');
      const path = spec.interface?.endpoint ?? 'generate';
      return {
        ...base,
        // The service's own image (prebuilt, or built by the build activity, which records it here) has its own
        // entrypoint: it gets the runner's args alone. The project image serves the model with `dyffctl serve-model`.
        command:
          spec.image || spec.build
            ? (runner.args ?? [])
            : ['serve-model', '--model', spec.model, ...(runner.args ?? [])],
        ...(spec.image ? { image: spec.image } : {}),
        placement: placementOf(runner),
        readinessPath: '/ready',
        endpoint: path.startsWith('/') ? path : `/${path}`,
        interface: {
          inputPipeline: inputPipeline ?? [{ kind: 'TransformJSON', configuration: { text: '$.text' } }],
          outputPipeline: outputPipeline ?? PREDICTIONS_TO_RECORDS,
        },
      };
    }
    case 'openai': {
      const root = requireEndpoint(runner.endpoint, 'openai').replace(/\/+$/, '').replace(/\/v1$/, '');
      // vLLM and most OpenAI-compatible servers name a Hub model by its repo id.
      const name = manifest?.source.kind === 'huggingFaceHub' ? manifest.source.repoID : spec.model;
      return {
        ...base,
        endpoint: `${root}/v1/chat/completions`,
        interface: {
          inputPipeline: inputPipeline ?? [
            {
              kind: 'TransformJSON',
              configuration: {
                ...(name === undefined ? {} : { model: name }),
                messages: [{ role: 'user', content: '$.text' }],
              },
            },
          ],
          outputPipeline: outputPipeline ?? CHOICES_TO_TEXT,
        },
      };
    }
    case 'http':
      return {
        ...base,
        endpoint: requireEndpoint(runner.endpoint, 'http'),
        interface: { inputPipeline, outputPipeline },
      };
  }
}

function requireEndpoint(endpoint: string | undefined, kind: string): string {
  if (endpoint === undefined) throw invalidInput(`spec.runner.endpoint: required for runner ${kind}`);
  return endpoint;
}

function checkedInput(adapters: NonNullable<InferenceServiceSpec['interface']>['inputPipeline']) {
  if (adapters === undefined) return undefined;
  checkPipeline(adapters, 'spec.interface.inputPipeline');
  return adapters.map((a, i) => {
    if (a.kind !== 'TransformJSON') {
      throw invalidInput(
        `spec.interface.inputPipeline[${i}]: only TransformJSON can build a request, not ${a.kind}`,
      );
    }
    return { kind: a.kind, configuration: a.configuration };
  });
}

/** Compiling catches bad paths and configurations now, rather than at the first request of an evaluation. */
function checkPipeline(
  adapters: { kind: string; configuration: Record<string, unknown> }[] | undefined,
  where: string,
) {
  try {
    compilePipeline(adapters, where);
  } catch (err) {
    if (err instanceof AdapterConfigError) throw invalidInput(err.message);
    throw err;
  }
}

/** The session's pods: GPUs (count and type), CPU and memory, spot nodes; undefined when the spec sets none. */
function placementOf(runner: InferenceServiceSpec['runner']): ServiceDescription['placement'] {
  const { accelerator, resources, spot } = runner;
  if (!accelerator && !resources && spot === undefined) return undefined;
  return {
    accelerator: accelerator && { count: accelerator.count, type: accelerator.type },
    resources,
    spot,
  };
}
