import { invalidInput } from './errors.js';

/**
 * Relative file paths from sources (Zenodo keys, URL names, directory walks) become object keys and local paths,
 * so anything that could climb out of its directory is refused before it is used.
 */
export function unsafePathReason(p: string): string | undefined {
  if (p === '') return 'empty name';
  if (p.includes('\\')) return 'contains a backslash';
  if (p.includes('\0')) return 'contains NUL';
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p)) return 'is absolute';
  const segments = p.split('/');
  if (segments.includes('..')) return "contains '..'";
  if (segments.some((s) => s === '' || s === '.')) return "has an empty or '.' segment";
  return undefined;
}

/** Throws an exit-2 error naming the file and where it came from. */
export function assertSafePath(p: string, origin: string): string {
  const reason = unsafePathReason(p);
  if (reason)
    throw invalidInput(`${origin}: refusing file name ${JSON.stringify(p)}: ${reason} (path traversal?)`);
  return p;
}

/**
 * A glob as a RegExp over '/'-separated relative paths: `**` spans folders, `*` and `?` stay inside one, `{a,b}`
 * alternates. A pattern without '/' matches the file's base name anywhere, as `*.csv` is usually meant.
 */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  let inBraces = false;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      const slashAfter = glob[i + 2] === '/';
      re += slashAfter ? '(?:.*/)?' : '.*';
      i += slashAfter ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '{') {
      inBraces = true;
      re += '(?:';
    } else if (c === '}' && inBraces) {
      inBraces = false;
      re += ')';
    } else if (c === ',' && inBraces) re += '|';
    else re += c.replace(/[.+^$()|[\]\\]/g, '\\$&');
  }
  return new RegExp(glob.includes('/') ? `^${re}$` : `(?:^|/)${re}$`);
}

export function matcher(include: string | undefined): (path: string) => boolean {
  if (include === undefined) return () => true;
  const re = globToRegExp(include);
  return (path) => re.test(path);
}
