/**
 * Python's fnmatch, which huggingface_hub uses for allow/ignore patterns: `*` matches any run of characters,
 * `/` included, `?` one character, `[abc]` / `[!abc]` a set. A pattern ending in `/` means everything below it.
 */
export function fnmatchToRegExp(pattern: string): RegExp {
  const p = pattern.endsWith('/') ? `${pattern}*` : pattern;
  let re = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = p.indexOf(']', i + 2);
      if (end === -1) {
        re += '\\[';
        continue;
      }
      let set = p.slice(i + 1, end).replace(/\\/g, '\\\\');
      if (set.startsWith('!')) set = `^${set.slice(1)}`;
      re += `[${set}]`;
      i = end;
    } else re += c.replace(/[.+^$(){}|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

/** huggingface_hub's filter_repo_objects: kept if some allow pattern matches (or none given) and no ignore does. */
export function repoFileFilter(allow: readonly string[] | undefined, ignore: readonly string[] | undefined) {
  const allowed = allow?.map(fnmatchToRegExp);
  const ignored = (ignore ?? []).map(fnmatchToRegExp);
  return (path: string) =>
    (!allowed || allowed.some((r) => r.test(path))) && !ignored.some((r) => r.test(path));
}
