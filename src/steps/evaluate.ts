import { quotedString } from '@duckdb/node-api';
import { setMaxListeners } from 'node:events';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { EvaluationSpec } from '../domain/specs.js';
import type { StepContext } from './context.js';
import { invalidInput } from './errors.js';
import { AdapterConfigError, compilePipeline } from './evaluate/adapters.js';
import { loadProgress } from './evaluate/checkpoints.js';
import {
  createPairsTable,
  createReplicationsTable,
  createRowsView,
  datasetShards,
} from './evaluate/dataset.js';
import { dispatch } from './evaluate/dispatch.js';
import { AdaptiveLimit } from './evaluate/limiter.js';
import { OutputWriter } from './evaluate/output-writer.js';
import { RequestSender } from './evaluate/send.js';
import { loadService, requestUrl } from './evaluate/service.js';
import { createTransport, loadUndici } from './evaluate/transport.js';
import { replicationIds } from '../uuid5.js';
import { countWork, pendingWork, windowRows } from './evaluate/work.js';
import { openEngine } from './ingest/duckdb.js';

export interface EvaluateInput {
  id: string;
  spec: EvaluationSpec;
  options: Record<string, string | undefined>;
}

/**
 * The evaluation client: one POST per (dataset row, replication) to the inference session, outputs checkpointed
 * in Parquet parts under `outputs/<id>/data/`. A rerun after a crash or a stop sends only the pairs not yet in a
 * checkpointed part; the few sent twice across the crash are removed by verify-outputs.
 */
export async function evaluate(ctx: StepContext, { id, spec, options }: EvaluateInput) {
  const { log, objectStore: store } = ctx;
  const service = await loadService(store, options.service, spec.inferenceService);
  const url = requestUrl(service, options.endpoint);
  const [toRequest, toResponses] = compileInterface(service.interface);
  const batchItems = positive(options['checkpoint-items'] ?? '5000', '--checkpoint-items');
  const batchMs = positive(options['checkpoint-seconds'] ?? '30', '--checkpoint-seconds') * 1000;
  const replications = replicationIds(id, spec.replications);

  const scratch = join(ctx.workDir, id);
  await mkdir(scratch, { recursive: true });
  // Two databases: the work query streams on one while parts are written with the other. DuckDB opens them on
  // threads of its own, side by side, while this thread loads the HTTP client.
  const [[reader, writerEngine]] = await Promise.all([
    Promise.all([openEngine(join(scratch, 'read'), ctx.signal), openEngine(join(scratch, 'write'))]),
    loadUndici(),
  ]);
  // DuckDB keeps what it reads of a Parquet file in its buffer pool (up to its memory limit, most of the machine)
  // in case it is read again; the client reads each shard once, so that cache would only grow with the dataset.
  await reader.connection.run('SET enable_external_file_cache = false');
  const stop = new AbortController();
  const signal = ctx.signal ? AbortSignal.any([ctx.signal, stop.signal]) : stop.signal;
  // Every request and every retry wait listens on it: hundreds of listeners are expected, not a leak.
  setMaxListeners(0, signal);
  const maxConcurrency = spec.workersPerReplica * spec.replications;
  if (maxConcurrency > ctx.limits.maxConcurrentRequests) {
    throw invalidInput(
      `spec.replications × spec.workersPerReplica = ${maxConcurrency} is more than limits.maxConcurrentRequests (${ctx.limits.maxConcurrentRequests})`,
    );
  }
  // Resolved here, in the one process that sends the requests; the description carries only the reference.
  const apiKey = service.apiKey && (await ctx.secrets.resolve(service.apiKey));
  // A full URL in the description is the user's endpoint (openai, http); a path is on the platform's own session.
  const userEndpoint = /^https?:\/\//.test(service.endpoint);
  const transport = await createTransport(url, maxConcurrency, signal, {
    egress: userEndpoint ? ctx.sources.egress : undefined,
    headers: apiKey ? { authorization: `Bearer ${apiKey}` } : undefined,
    maxResponseBytes: ctx.limits.maxResponseBytes,
  });
  try {
    const progress = await loadProgress(store, id, writerEngine.connection, scratch, log);
    const shards = await datasetShards(store, spec.dataset, scratch, ctx.signal);
    await createRowsView(reader.connection, shards, spec);
    await createReplicationsTable(reader.connection, replications);
    await createPairsTable(reader.connection, 'done', progress.done, progress.skipped, scratch);
    const { rows, pending } = await countWork(reader.connection);
    const total = rows * replications.length;
    if (rows === 0)
      throw invalidInput(
        `no dataset rows to evaluate${spec.split ? ` in split ${JSON.stringify(spec.split)}` : ''}`,
      );
    log.info(
      `${total} items (${rows} rows × ${replications.length} replications); ${total - pending} done by earlier runs; sending ${pending} to ${url.href}`,
    );

    // Shard bytes on disk per row: about a row's size for images, which Parquet cannot compress.
    const shardBytes = (await Promise.all(shards.map((f) => stat(f)))).reduce((n, s) => n + s.size, 0);
    // A window smaller than a row group would read that group once per window: never below the largest group.
    const groups = await reader.connection.runAndReadAll(
      `SELECT max(row_group_num_rows) FROM parquet_metadata([${shards.map(quotedString).join(', ')}])`,
    );
    const window = windowRows(shardBytes / rows, Number(groups.getRows()[0]?.[0] ?? 0));
    const limiter = new AdaptiveLimit({ initial: spec.workersPerReplica, max: maxConcurrency });
    const sender = new RequestSender({
      url,
      policy: spec.client,
      transport,
      limiter,
      toRequest,
      toResponses,
      log,
      signal,
    });
    const writer = new OutputWriter({
      store,
      evaluationId: id,
      connection: writerEngine.connection,
      scratch,
      log,
      nextSeq: progress.nextSeq,
      skipped: progress.skipped,
      batchItems,
      batchMs,
    });
    const started = performance.now();
    let sent = 0;
    let reportedAt = -Infinity;
    const report = () => {
      const now = performance.now();
      // The log prints at most one report a second anyway; building one per item would cost at thousands a second.
      if (now - reportedAt < 200 && sent < pending) return;
      reportedAt = now;
      const seconds = (now - started) / 1000;
      const rate = seconds > 0 ? Math.round((sent / seconds) * 10) / 10 : 0;
      log.progress({
        done: total - pending + sent,
        total,
        unit: 'items',
        message: `${rate} items/s, concurrency ${limiter.limit}`,
        retries: { ...sender.retries },
      });
    };
    report();
    try {
      await dispatch(pendingWork(reader.connection, window), {
        limit: () => limiter.limit,
        beforeStart: () => writer.waitForRoom(),
        abort: stop,
        run: async (item) => {
          const outcome = await sender.send(item);
          if (outcome.kind === 'ok') writer.add(item.replication, item.index, outcome.responses);
          else
            writer.addSkipped({
              _index_: item.index,
              _replication_: item.replication,
              status: outcome.status,
              error: outcome.error,
            });
          sent++;
          report();
        },
      });
    } finally {
      // Answers already received are kept, also on a failure or a stop: a rerun does not ask for them again.
      await writer.close();
    }
    const skippedNow = writer.skipped.length - progress.skipped.length;
    log.info(
      `sent ${sent} items in ${((performance.now() - started) / 1000).toFixed(1)} s: ${writer.written} outputs in ${writer.parts} part(s), ${skippedNow} skipped (${writer.skipped.length} in all)`,
    );
    return { total, sent, written: writer.written, skipped: writer.skipped.length };
  } finally {
    transport.close();
    reader.close();
    writerEngine.close();
    await rm(scratch, { recursive: true, force: true });
  }
}

function compileInterface(iface: { inputPipeline?: AdapterSpecs; outputPipeline?: AdapterSpecs }) {
  try {
    return [
      compilePipeline(iface.inputPipeline, 'service.interface.inputPipeline'),
      compilePipeline(iface.outputPipeline, 'service.interface.outputPipeline'),
    ] as const;
  } catch (err) {
    throw err instanceof AdapterConfigError ? invalidInput(err.message) : err;
  }
}

type AdapterSpecs = { kind: string; configuration: Record<string, unknown> }[];

function positive(raw: string, name: string): number {
  const n = Number(raw);
  if (!(n > 0)) throw invalidInput(`${name}: expected a positive number, got ${JSON.stringify(raw)}`);
  return n;
}
