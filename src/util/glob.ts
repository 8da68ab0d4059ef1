// Shell-style globs ("*" any run, "?" one char), matched case-insensitively
// because host names, user names and file names are compared that way by
// people writing policies.
export type Matcher = (value: string) => boolean;

function globToRegExpSource(glob: string): string {
  let out = '';
  for (const ch of glob) {
    if (ch === '*') out += '.*';
    else if (ch === '?') out += '.';
    else out += ch.replace(/[\\^$.+()|[\]{}]/g, '\\$&');
  }
  return out;
}

/** One matcher for a list of globs (OR). Plain names short-circuit to a Set lookup. */
export function compileGlobs(globs: readonly string[]): Matcher {
  const exact = new Set<string>();
  const patterns: string[] = [];
  for (const g of globs) {
    if (g.includes('*') || g.includes('?')) patterns.push(globToRegExpSource(g));
    else exact.add(g.toLowerCase());
  }
  const re = patterns.length > 0 ? new RegExp(`^(?:${patterns.join('|')})$`, 'is') : null;
  return (value: string) => {
    const v = value.toLowerCase();
    if (exact.has(v)) return true;
    return re !== null && re.test(v);
  };
}
