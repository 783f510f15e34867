/**
 * Reading step logs back: the chunks of every step and try in write order, each step's try under a header, and
 * the single `logs.txt` of entities written before chunked logs.
 *
 *   let cursor = LOG_START;
 *   const { text, next } = await readStepLogs(store, 'datasets', id, { from: cursor }); // later: { from: next }
 */
import { DyffError, ErrorType } from '../domain/errors.js';
import type { Category } from '../domain/kinds.js';
import type { LogChunkRef } from '../domain/log-layout.js';
import { HAND_RUN_TRY, legacyLogKey, logPrefix, parseLogChunkKey } from '../domain/log-layout.js';
import type { ObjectStore } from '../ports/object-store.js';

/** What has been read already, so that following a running entity prints each line once. */
export interface LogCursor {
  /** Bytes of the old single log object already read. */
  legacyBytes: number;
  /** Chunk keys already read. */
  read: ReadonlySet<string>;
  /** The step and try whose header was printed last. */
  lastGroup?: string;
}

export const LOG_START: LogCursor = { legacyBytes: 0, read: new Set() };

export interface ReadLogsOptions {
  /** Only this try (of every step, unless `step` is given). The old single log has no tries and is left out. */
  try?: number;
  /** Only this step program (`fetch-data`, `evaluate`, …). */
  step?: string;
  from?: LogCursor;
}

type Chunk = LogChunkRef & { key: string; text: string };

export async function readStepLogs(
  store: ObjectStore,
  category: Category,
  id: string,
  opts: ReadLogsOptions = {},
): Promise<{ text: string; next: LogCursor }> {
  const from = opts.from ?? LOG_START;
  let text = '';
  let legacyBytes = from.legacyBytes;
  if (opts.try === undefined && opts.step === undefined) {
    const legacy = await getOrUndefined(store, category, legacyLogKey(id));
    if (legacy && legacy.length > legacyBytes) {
      text += legacy.subarray(legacyBytes).toString('utf8');
      legacyBytes = legacy.length;
    }
  }
  const chunks = await newChunks(store, category, id, opts, from.read);
  const read = new Set(from.read);
  let lastGroup = from.lastGroup;
  for (const group of inWriteOrder(chunks)) {
    for (const chunk of group) {
      const name = groupOf(chunk);
      if (name !== lastGroup) text += header(chunk);
      lastGroup = name;
      text += chunk.text;
      read.add(chunk.key);
    }
  }
  return { text, next: { legacyBytes, read, lastGroup } };
}

/** The last `count` lines of one try of one step (progress reports left out), for a failed entity's message. */
export async function tailOfStepLog(
  store: ObjectStore,
  category: Category,
  id: string,
  at: { step: string; try: number },
  count = 20,
): Promise<string[]> {
  const refs = (await store.list(category, logPrefix(id, at.step, at.try)))
    .map((o) => ({ key: o.key, ref: parseLogChunkKey(id, o.key) }))
    .filter((c) => c.ref !== undefined)
    .sort((a, b) => a.ref!.seq - b.ref!.seq);
  const texts: string[] = [];
  let lines: string[] = [];
  // From the newest chunk back, until enough lines are in hand.
  for (let i = refs.length - 1; i >= 0 && lines.length < count; i--) {
    texts.unshift((await store.getBuffer(category, refs[i]!.key)).toString('utf8'));
    lines = usefulLines(texts.join(''));
  }
  if (refs.length === 0) {
    const legacy = await getOrUndefined(store, category, legacyLogKey(id));
    if (legacy) lines = usefulLines(legacy.toString('utf8'));
  }
  return lines.slice(-count);
}

async function newChunks(
  store: ObjectStore,
  category: Category,
  id: string,
  opts: ReadLogsOptions,
  read: ReadonlySet<string>,
): Promise<Chunk[]> {
  const listed = await store.list(category, logPrefix(id, opts.step));
  const refs = listed
    .filter((o) => !read.has(o.key))
    .map((o) => ({ key: o.key, ref: parseLogChunkKey(id, o.key) }))
    .filter((c): c is { key: string; ref: LogChunkRef } => c.ref !== undefined)
    .filter((c) => opts.try === undefined || c.ref.try === opts.try);
  const chunks: Chunk[] = [];
  // A few reads at a time: a long log has thousands of chunks.
  for (let i = 0; i < refs.length; i += 16) {
    const batch = refs.slice(i, i + 16);
    const texts = await Promise.all(batch.map((c) => store.getBuffer(category, c.key)));
    batch.forEach((c, j) => chunks.push({ ...c.ref, key: c.key, text: texts[j]!.toString('utf8') }));
  }
  return chunks;
}

/**
 * Chunks grouped by step and try, each group by sequence number, the groups by the time of their first line (a
 * step's tries and the steps of an entity run one after another), then by name.
 */
function inWriteOrder(chunks: Chunk[]): Chunk[][] {
  const groups = new Map<string, Chunk[]>();
  for (const c of chunks) groups.set(groupOf(c), [...(groups.get(groupOf(c)) ?? []), c]);
  const sorted = [...groups.values()].map((g) => g.sort((a, b) => a.seq - b.seq));
  const startOf = (g: Chunk[]) => /^\d{4}-\d\d-\d\dT[\d:.]+Z/.exec(g[0]!.text)?.[0] ?? '';
  return sorted.sort(
    (a, b) =>
      startOf(a).localeCompare(startOf(b)) || a[0]!.step.localeCompare(b[0]!.step) || a[0]!.try - b[0]!.try,
  );
}

const groupOf = (c: LogChunkRef): string => `${c.step}/${c.try}`;

const header = (c: LogChunkRef): string =>
  `==> ${c.step}, ${c.try === HAND_RUN_TRY ? 'run by hand' : `try ${c.try}`} <==\n`;

const usefulLines = (text: string): string[] =>
  text.split('\n').filter((l) => l && !l.includes('::progress::'));

async function getOrUndefined(
  store: ObjectStore,
  category: Category,
  key: string,
): Promise<Buffer | undefined> {
  try {
    return await store.getBuffer(category, key);
  } catch (err) {
    if (err instanceof DyffError && err.type === ErrorType.NotFound) return undefined;
    throw err;
  }
}
