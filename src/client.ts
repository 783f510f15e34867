/**
 * DyffClient: create entities from manifests, read them, wait for them, follow their logs, cancel them.
 *
 *   const dyff = await DyffClient.connect(loadConfig());
 *   const { id } = await dyff.create(parseManifest(text, 'dataset.yaml'), { baseDir });
 *   const entity = await dyff.wait(id, { onProgress: console.log });
 */
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import type { WorkflowExecutionDescription } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { StepHeartbeat } from './activities/index.js';
import type { LogCursor, ReadLogsOptions } from './activities/step-logs.js';
import { readStepLogs } from './activities/step-logs.js';
import type { Adapters } from './adapters/index.js';
import { createEntityStore, createObjectStore } from './adapters/index.js';
import { codecFor, dataConverterFor } from './codec/data-converter.js';
import type { Config } from './config.js';
import type { Entity, Progress } from './domain/entity.js';
import { DyffError, ErrorType } from './domain/errors.js';
import type { EntityKind } from './domain/kinds.js';
import { CATEGORY_OF_KIND, workflowIdFor } from './domain/kinds.js';
import { datasetKeys, entityLocation } from './domain/object-layout.js';
import type { Manifest } from './domain/manifest.js';
import { entityFromMemo } from './domain/run-metadata.js';
import { cancelIfRunning, ENTITY_WORKFLOW_KINDS, listFromRuns } from './client-runs.js';
import type { CreateOptions, CreateResult } from './client-create-run.js';
import { createEntity } from './client-create-run.js';

export type { CreateOptions, CreateResult } from './client-create-run.js';
import { isTerminal } from './domain/status.js';
import { whileUnreachable } from './temporal-outage.js';
import { describeConnection, temporalConnectionOptions } from './temporal-connection.js';
import type { EntityQuery, EntityStore } from './ports/entity-store.js';
import type { ObjectStore } from './ports/object-store.js';

export interface EntityView extends Entity {
  workflowId: string;
  /** The step running now and its progress, from the step activity's heartbeat. */
  stage?: string;
  progress?: Progress;
  uiUrl: string;
}

const POLL_DEADLINE_MS = 5000;

export class DyffClient {
  private constructor(
    readonly config: Config,
    readonly temporal: Client,
    /** The entity store given by the caller; otherwise opened on first use, unless `client.reads` is temporal. */
    private readonly givenEntities: EntityStore | undefined,
    private readonly objects: ObjectStore,
    private readonly owned: boolean,
  ) {}

  private opened?: Promise<EntityStore | undefined>;
  /** Why the entity store could not be used, when it could not (reads then come from Temporal). */
  storeProblem?: string;

  /**
   * The entity store, or undefined when this client reads Temporal only: configured so (`client.reads:
   * temporal`), or the store could not be opened (a script on a machine without the store's credentials).
   */
  private entities(): Promise<EntityStore | undefined> {
    if (this.givenEntities) return Promise.resolve(this.givenEntities);
    if (this.config.client.reads === 'temporal') return Promise.resolve(undefined);
    this.opened ??= createEntityStore(this.config).catch((err: unknown) => {
      this.storeProblem = (err as Error).message;
      return undefined;
    });
    return this.opened;
  }

  static async connect(
    config: Config,
    adapters?: Pick<Adapters, 'entityStore' | 'objectStore'>,
  ): Promise<DyffClient> {
    let connection: Connection;
    const options = temporalConnectionOptions(config.temporal);
    try {
      connection = await Connection.connect({ ...options, connectTimeout: '5s' });
    } catch (err) {
      throw new DyffError(
        ErrorType.SourceUnavailable,
        `cannot reach Temporal at ${describeConnection(options)} (${(err as Error).message}); start one with \`dyffctl dev\`, or check temporal.address and temporal.tls`,
      );
    }
    const temporal = new Client({
      connection,
      namespace: config.temporal.namespace,
      dataConverter: dataConverterFor(config),
    });
    const objects = adapters?.objectStore ?? (await createObjectStore(config));
    return new DyffClient(config, temporal, adapters?.entityStore, objects, !adapters);
  }

  async close(): Promise<void> {
    if (this.owned && this.opened) await (await this.opened)?.close();
    await this.temporal.connection.close();
  }

  /**
   * Start the entity's workflow; returns at once with its id. With a request id (`metadata.requestId` or the
   * option), the same create again returns the same entity (`created: false`) instead of making a second one.
   */
  create(manifest: Manifest, opts: CreateOptions = {}): Promise<CreateResult> {
    const { taskQueue } = this.config.temporal;
    return createEntity({ temporal: this.temporal, taskQueue, find: (id) => this.get(id) }, manifest, opts);
  }

  /**
   * The entity, with the running step's progress; undefined for an unknown id. From the entity store when it has
   * it, otherwise from the entity's run in Temporal (its memo): a client without the store reads the same.
   */
  async get(id: string): Promise<EntityView | undefined> {
    const stored = await (await this.entities())?.get(id);
    const run = stored ? undefined : await this.findRun(id);
    const kind = stored?.kind ?? run?.kind;
    if (!kind) return undefined;
    const workflowId = workflowIdFor(kind, id);
    const uiUrl = this.uiUrl(workflowId);
    const fromRun =
      run &&
      entityFromMemo(run.description.memo, run.description.startTime, {
        status: run.description.status.name,
        closeTime: run.description.closeTime,
      });
    const view: EntityView = stored
      ? { ...stored, workflowId, uiUrl }
      : fromRun
        ? { ...fromRun, workflowId, uiUrl }
        : placeholder(id, kind, workflowId, uiUrl);
    if (!isTerminal(view.status)) Object.assign(view, await this.liveProgress(workflowId, run?.description));
    return view;
  }

  /**
   * Entities matching the query: from the entity store, or, for a client that reads Temporal only, from the
   * runs' search attributes and memos (runs within the namespace's retention; the store keeps them longer).
   */
  async list(query: EntityQuery): Promise<Entity[]> {
    const store = await this.entities();
    if (store) return store.list(query);
    return listFromRuns(this.temporal, query);
  }

  /**
   * Wait until the entity reaches a terminal status, reporting progress on the way. A Temporal outage does not end
   * the wait: it retries with backoff, calling `onUnreachable`, and gives up (DyffError SourceUnavailable) after
   * `temporal.unreachableTimeoutSeconds` of continuous outage.
   */
  async wait(
    id: string,
    opts: {
      onProgress?: (view: EntityView) => void;
      onUnreachable?: (downForMs: number) => void;
      signal?: AbortSignal;
      intervalMs?: number;
    } = {},
  ): Promise<EntityView> {
    const outage = {
      address: this.config.temporal.address,
      timeoutMs: this.config.temporal.unreachableTimeoutSeconds * 1000,
      onUnreachable: opts.onUnreachable,
      signal: opts.signal,
    };
    for (;;) {
      opts.signal?.throwIfAborted();
      // A deadline per poll, so that an outage shows within seconds instead of after the SDK's own retries.
      const view = await whileUnreachable(
        () => this.temporal.connection.withDeadline(Date.now() + POLL_DEADLINE_MS, () => this.get(id)),
        outage,
      );
      if (!view) throw new DyffError(ErrorType.NotFound, `no entity with id ${id}`);
      opts.onProgress?.(view);
      if (isTerminal(view.status)) return view;
      await new Promise((r) => setTimeout(r, opts.intervalMs ?? 500));
    }
  }

  /**
   * What the entity's steps logged since `from` (they outlive the processes or pods that wrote them): each step's
   * tries in order under a header, or one try with `try`. Pass `next` back as `from` to follow a running entity.
   */
  async logs(id: string, opts: ReadLogsOptions = {}): Promise<{ text: string; next: LogCursor }> {
    const kind = (await this.get(id))?.kind;
    if (!kind) throw new DyffError(ErrorType.NotFound, `no entity with id ${id}`);
    return readStepLogs(this.objects, CATEGORY_OF_KIND[kind], id, opts);
  }

  /**
   * Request cancellation: the running job is stopped and the entity ends Terminated. False when the entity's run
   * has ended already (or is past the namespace's retention): there is nothing to cancel, and nothing changes.
   */
  async cancel(id: string): Promise<boolean> {
    const view = await this.get(id);
    if (!view) throw new DyffError(ErrorType.NotFound, `no entity with id ${id}`);
    return cancelIfRunning(this.temporal.workflow.getHandle(view.workflowId)).catch((err: unknown) => {
      // Past the namespace's retention: the store still has the entity, and nothing runs.
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    });
  }

  uiUrl(workflowId: string): string {
    return `${this.config.temporal.uiUrl}/namespaces/${this.config.temporal.namespace}/workflows/${workflowId}`;
  }

  location(kind: EntityKind, id: string): string {
    return entityLocation(this.objects.uri(CATEGORY_OF_KIND[kind], datasetKeys.manifest(id)));
  }

  /** The entity's run, whatever its kind: its workflow id is `<kind>-<id>`. */
  private async findRun(
    id: string,
  ): Promise<{ kind: EntityKind; description: WorkflowExecutionDescription } | undefined> {
    const found = await Promise.all(
      ENTITY_WORKFLOW_KINDS.map(async (kind) => {
        try {
          return {
            kind,
            description: await this.temporal.workflow.getHandle(workflowIdFor(kind, id)).describe(),
          };
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
          return undefined;
        }
      }),
    );
    return found.find((f) => f !== undefined);
  }

  private async liveProgress(
    workflowId: string,
    described?: WorkflowExecutionDescription,
  ): Promise<{ stage?: string; progress?: Progress }> {
    try {
      const desc = described ?? (await this.temporal.workflow.getHandle(workflowId).describe());
      for (const act of desc.raw.pendingActivities ?? []) {
        const payload = act.heartbeatDetails?.payloads?.[0];
        if (!payload) continue;
        // describe() hands heartbeat details over as stored: encrypted when a codec is configured.
        const codec = codecFor(this.config);
        const [plain] = codec ? await codec.decode([payload]) : [payload];
        const hb = defaultPayloadConverter.fromPayload<StepHeartbeat>(plain!);
        return { stage: hb.stage, progress: hb.progress ? { stage: hb.stage, ...hb.progress } : undefined };
      }
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    return {};
  }
}

function placeholder(id: string, kind: EntityKind, workflowId: string, uiUrl: string): EntityView {
  const now = new Date().toISOString();
  return {
    id,
    kind,
    account: '',
    status: 'Created',
    labels: {},
    annotations: {},
    spec: undefined,
    creationTime: now,
    lastTransitionTime: now,
    workflowId,
    uiUrl,
  };
}
