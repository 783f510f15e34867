import type { CompiledPath, Json, JsonObject } from './json-path.js';
import { compilePath } from './json-path.js';

export type { Json, JsonObject } from './json-path.js';

/**
 * Dyff's schema adapters, compiled once from a service's interface and applied per request and per response:
 *
 * - TransformJSON: `configuration` is the output record. Strings starting with `$` are paths into the input
 *   (`$.text`, `$.choices[0].message.content`, `$` for all of it); `$$…` is a literal starting with `$`; objects
 *   and lists are templates themselves; anything else is a literal. Keys whose path finds nothing are left out.
 * - ExplodeCollections: `configuration.collections` names top-level lists of one length; the record becomes one
 *   record per position holding that position's elements, the other fields copied, and the position in the field
 *   named by `configuration.index` (@default `{ "_response_index_": null }`).
 */
export interface AdapterSpec {
  kind: string;
  configuration: Record<string, unknown>;
}

export type Pipeline = (record: JsonObject) => JsonObject[];

/** A response that does not have the shape the output pipeline expects: the item, not the client, is at fault. */
export class ResponseShapeError extends Error {}

/** An adapter configuration that cannot work; the message names where it is, e.g. `outputPipeline[1]`. */
export class AdapterConfigError extends Error {}

export const RESPONSE_INDEX = '_response_index_';

export function compilePipeline(adapters: readonly AdapterSpec[] | undefined, where: string): Pipeline {
  const stages = (adapters ?? []).map((a, i) => compileAdapter(a, `${where}[${i}]`));
  // Plain loops, no closures made per call: this runs twice per request, thousands of times a second.
  return (record) => {
    let records = [record];
    for (const stage of stages) {
      if (records.length === 1) {
        records = stage(records[0]!);
        continue;
      }
      const next: JsonObject[] = [];
      for (const r of records) for (const out of stage(r)) next.push(out);
      records = next;
    }
    return records;
  };
}

function compileAdapter(adapter: AdapterSpec, where: string): Pipeline {
  switch (adapter.kind) {
    case 'TransformJSON':
      return transformJson(adapter.configuration, where);
    case 'ExplodeCollections':
      return explodeCollections(adapter.configuration, where);
    default:
      throw new AdapterConfigError(`${where}: unknown adapter kind ${JSON.stringify(adapter.kind)}`);
  }
}

type Template = (input: JsonObject) => Json | undefined;

function transformJson(configuration: Record<string, unknown>, where: string): Pipeline {
  const template = compileTemplate(configuration, `${where}.configuration`);
  return (record) => [template(record) as JsonObject];
}

function compileTemplate(t: unknown, where: string): Template {
  if (typeof t === 'string') {
    if (t.startsWith('$$')) return () => t.slice(1);
    if (t.startsWith('$')) {
      let path: CompiledPath;
      try {
        path = compilePath(t);
      } catch (err) {
        throw new AdapterConfigError(`${where}: ${(err as Error).message}`);
      }
      return path;
    }
    return () => t;
  }
  if (Array.isArray(t)) {
    const items = t.map((item, i) => compileTemplate(item, `${where}[${i}]`));
    return (input) => items.map((item) => item(input) ?? null);
  }
  if (t !== null && typeof t === 'object') {
    const keys = Object.keys(t);
    const fields = keys.map((k) => compileTemplate((t as Record<string, unknown>)[k], `${where}.${k}`));
    return (input) => {
      const out: JsonObject = {};
      for (let i = 0; i < keys.length; i++) {
        const value = fields[i]!(input);
        if (value !== undefined) out[keys[i]!] = value;
      }
      return out;
    };
  }
  if (t === null || typeof t === 'boolean' || (typeof t === 'number' && Number.isFinite(t))) return () => t;
  throw new AdapterConfigError(`${where}: ${typeof t} is not a JSON value`);
}

function explodeCollections(configuration: Record<string, unknown>, where: string): Pipeline {
  const { collections, index = { [RESPONSE_INDEX]: null } } = configuration;
  if (
    !Array.isArray(collections) ||
    collections.length === 0 ||
    !collections.every((c) => typeof c === 'string')
  ) {
    throw new AdapterConfigError(
      `${where}.configuration.collections: expected a non-empty list of field names`,
    );
  }
  if (index === null || typeof index !== 'object' || Array.isArray(index)) {
    throw new AdapterConfigError(`${where}.configuration.index: expected a mapping of field name to null`);
  }
  const indexFields = Object.entries(index).map(([field, path]) => {
    if (path !== null) {
      throw new AdapterConfigError(
        `${where}.configuration.index.${field}: only null (the position) is supported`,
      );
    }
    return field;
  });
  const names = collections as string[];
  return (record) => {
    const lists: Json[][] = new Array<Json[]>(names.length);
    const ownProto = Object.hasOwn(record, '__proto__');
    for (let i = 0; i < names.length; i++) {
      const list = record[names[i]!];
      if (!Array.isArray(list))
        throw new ResponseShapeError(`response field ${JSON.stringify(names[i])} is not a list`);
      lists[i] = list;
    }
    const length = lists[0]!.length;
    for (let i = 1; i < lists.length; i++) {
      if (lists[i]!.length !== length) {
        const lengths = names.map((n, j) => `${n}: ${lists[j]!.length}`).join(', ');
        throw new ResponseShapeError(`collections to explode differ in length (${lengths})`);
      }
    }
    const out: JsonObject[] = new Array<JsonObject>(length);
    for (let position = 0; position < length; position++) {
      const exploded = copyRecord(record, ownProto);
      for (let i = 0; i < names.length; i++) exploded[names[i]!] = lists[i]![position]!;
      for (let i = 0; i < indexFields.length; i++) exploded[indexFields[i]!] = position;
      out[position] = exploded;
    }
    return out;
  };
}

/**
 * A shallow copy of a record. `Object.assign` is ~20 × faster than `{ ...record }` on Node 20 (0.03 against 0.67 µs
 * a record), but it assigns where the spread defines: a response's own `__proto__` key (JSON.parse makes one) would
 * set the copy's prototype, so such a record takes the spread.
 */
function copyRecord(record: JsonObject, ownProto: boolean): JsonObject {
  return ownProto ? { ...record } : Object.assign({}, record);
}
