// Turns what a person typed into an FTS5 MATCH expression that can only mean
// "all these words": each whitespace-separated piece becomes a quoted phrase
// (inner quotes doubled), so `"`, `*`, `:`, `(`, `^`, NEAR, AND, OR, NOT are
// plain text to FTS5 and can neither break nor widen the query.
export function ftsQuery(text: string): string | null {
  const terms: string[] = [];
  for (const piece of text.split(/\s+/u)) {
    // A piece with no letter or digit tokenizes to nothing: an empty phrase
    // would match nothing, so it is left out instead of emptying the result.
    if (piece === '' || !/[\p{L}\p{N}]/u.test(piece)) continue;
    terms.push(`"${piece.replace(/"/g, '""')}"`);
  }
  return terms.length === 0 ? null : terms.join(' ');
}
