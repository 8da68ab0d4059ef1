// Full-text search on PostgreSQL with the semantics of the SQLite store
// (src/audit/fts.ts, FTS5 unicode61): words are runs of letters and digits,
// compared case- and diacritic-insensitively; each whitespace-separated piece
// of the query is a phrase, and every piece must match. The text is
// tokenized HERE, in JS, for both the index and the query, so PostgreSQL's
// parser only ever sees lowercase letter/digit words separated by spaces:
// no query syntax can reach it (the query goes through phraseto_tsquery, and
// as a bound parameter), and the word boundaries do not depend on the
// server's locale or parser quirks (e-mail and URL tokens, hyphenated words).

/** PostgreSQL's tsvector holds at most 1 MB; words past this many characters are not indexed. */
export const MAX_INDEXED_CHARS = 200_000;
/** PostgreSQL ignores longer words (2047 bytes); cut them so they still match by prefix. */
const MAX_WORD_CHARS = 500;

const WORD = /[\p{L}\p{N}]+/gu;
const MARKS = /\p{M}+/gu;

/** Lowercase, diacritics removed, words joined by single spaces ('' when there are none). */
export function ftsWords(text: string): string {
  const folded = text.toLowerCase().normalize('NFD').replace(MARKS, '').normalize('NFC');
  let out = '';
  for (const m of folded.matchAll(WORD)) {
    const w = m[0].length > MAX_WORD_CHARS ? m[0].slice(0, MAX_WORD_CHARS) : m[0];
    if (out.length + w.length + 1 > MAX_INDEXED_CHARS) break;
    out = out === '' ? w : `${out} ${w}`;
  }
  return out;
}

/** What the events.fts column is built from: null when the event has no text or no word. */
export function indexText(text: string | null | undefined): string | null {
  if (text === null || text === undefined) return null;
  const w = ftsWords(text);
  return w === '' ? null : w;
}

/**
 * The phrases a search string means, one per whitespace-separated piece that
 * holds a letter or digit (like ftsQuery, a piece of only punctuation is left
 * out); null when nothing is left, which matches no event.
 */
export function ftsPhrases(text: string): string[] | null {
  const phrases: string[] = [];
  for (const piece of text.split(/\s+/u)) {
    if (piece === '' || !/[\p{L}\p{N}]/u.test(piece)) continue;
    const w = ftsWords(piece);
    if (w !== '') phrases.push(w);
  }
  return phrases.length === 0 ? null : phrases;
}
