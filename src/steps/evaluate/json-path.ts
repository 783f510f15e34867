/**
 * The JSONPath subset the schema adapters accept: `$`, `.name`, `['name']`, `[n]` (negative counts from the end)
 * and `[*]` or `[]` (every element, which makes the result a list). Compiled once, evaluated per record.
 */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

type Segment = { key: string } | { index: number } | { all: true };

export type CompiledPath = (value: Json | undefined) => Json | undefined;

export function compilePath(expr: string): CompiledPath {
  const segments = parse(expr);
  // Paths of names only (`$.a.b`), the usual kind, walk a list of keys; the rest go through `walk`.
  if (segments.every((s) => 'key' in s)) {
    const keys = segments.map((s) => (s as { key: string }).key);
    return (value) => {
      let current = value;
      for (let i = 0; i < keys.length && current !== undefined; i++) current = member(current, keys[i]!);
      return current;
    };
  }
  return (value) => walk(value, segments, 0);
}

function parse(expr: string): Segment[] {
  if (!expr.startsWith('$'))
    throw new Error(`expected a path starting with '$', got ${JSON.stringify(expr)}`);
  const segments: Segment[] = [];
  const re = /\.([^.[\]]+)|\[(-?\d+)\]|\[(\*?)\]|\['((?:[^'\\]|\\.)*)'\]|\["((?:[^"\\]|\\.)*)"\]/y;
  re.lastIndex = 1;
  while (re.lastIndex < expr.length) {
    const at = re.lastIndex;
    const m = re.exec(expr);
    if (!m) throw new Error(`cannot parse ${JSON.stringify(expr)} at offset ${at}`);
    if (m[1] !== undefined) segments.push({ key: m[1] });
    else if (m[2] !== undefined) segments.push({ index: Number(m[2]) });
    else if (m[3] !== undefined) segments.push({ all: true });
    else segments.push({ key: (m[4] ?? m[5] ?? '').replace(/\\(.)/g, '$1') });
  }
  return segments;
}

function walk(value: Json | undefined, segments: readonly Segment[], from: number): Json | undefined {
  let current = value;
  for (let i = from; i < segments.length; i++) {
    const s = segments[i]!;
    if (current === undefined || current === null) return undefined;
    if ('all' in s) {
      if (!Array.isArray(current)) return undefined;
      return current.map((item) => walk(item, segments, i + 1) ?? null);
    }
    if ('index' in s) {
      current = Array.isArray(current)
        ? current[s.index < 0 ? current.length + s.index : s.index]
        : undefined;
    } else {
      current = member(current, s.key);
    }
  }
  return current;
}

/** `value[key]` where `value` is an object (not a list) with that key of its own; otherwise undefined. */
function member(value: Json | undefined, key: string): Json | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && Object.hasOwn(value, key)
    ? value[key]
    : undefined;
}
