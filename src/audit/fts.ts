// Full-text search terms for the SQLite store. The index (migration 3) is
// FTS5 with detail=none: it records which events hold a word, not where, so
// it is smaller and cheaper to fill per event, but FTS5 refuses a phrase of
// several words. A search therefore asks the index for events holding ALL
// the words, and the pieces that are phrases ("e-mail", "alice@example.com",
// each tokenizing to several words) are then checked in order on those
// candidates only (hasPhrases). What a person typed can only mean "all these
// words": each word is quoted, so `"`, `*`, `:`, `(`, `^`, NEAR, AND, OR,
// NOT are plain text and can neither break nor widen the query.
//
// The words handed to FTS5 are cut from the search as FTS5's unicode61
// tokenizer cuts text (letters, digits, private use; marks and the rest
// separate) but NOT folded: FTS5 folds them itself, exactly as it folded the
// stored texts (its Greek, Devanagari and multi-diacritic rules differ from
// JavaScript's). The phrase check runs in JS with one folding for both the
// search and the text, so it agrees with itself.

const TOKEN = /[\p{L}\p{N}\p{Co}]+/gu;
const HAS_TOKEN = /[\p{L}\p{N}\p{Co}]/u;
const MARKS = /\p{M}+/gu;

/** The words of a text for the phrase check: lowercase, diacritics and other marks removed. */
export function words(text: string): string[] {
  const folded = text.toLowerCase().normalize('NFD').replace(MARKS, '').normalize('NFC');
  return folded.match(TOKEN) ?? [];
}

export interface FtsSearch {
  /** Every word of the search, as typed (FTS5 folds them), once each. */
  tokens: string[];
  /** Pieces of several words, each as its folded words joined by one space: they must occur in this order. */
  phrases: string[];
}

/** null when the search holds no word (it then matches nothing). */
export function ftsSearch(text: string): FtsSearch | null {
  const tokens = new Set<string>();
  const phrases: string[] = [];
  for (const piece of text.split(/\s+/u)) {
    // A piece with no letter or digit tokenizes to nothing: left out instead of emptying the result.
    if (piece === '' || !HAS_TOKEN.test(piece)) continue;
    const t = piece.match(TOKEN) ?? [];
    for (const x of t) tokens.add(x);
    if (t.length > 1) {
      const w = words(piece);
      if (w.length > 0) phrases.push(w.join(' '));
    }
  }
  return tokens.size === 0 ? null : { tokens: [...tokens], phrases };
}

/** The FTS5 MATCH expression for these words: each one quoted (inner quotes doubled), all required. */
export function matchAll(tokens: readonly string[]): string {
  return tokens.map((w) => `"${w.replace(/"/g, '""')}"`).join(' ');
}

/** True when every phrase occurs in `text` as whole words in order. */
export function hasPhrases(text: string, phrases: readonly string[]): boolean {
  const hay = ` ${words(text).join(' ')} `;
  return phrases.every((p) => hay.includes(` ${p} `));
}

/**
 * The search as the version-2 index (detail=full) read it; kept for callers
 * of the package API. Each whitespace-separated piece becomes a quoted phrase.
 */
export function ftsQuery(text: string): string | null {
  const terms: string[] = [];
  for (const piece of text.split(/\s+/u)) {
    if (piece === '' || !/[\p{L}\p{N}]/u.test(piece)) continue;
    terms.push(`"${piece.replace(/"/g, '""')}"`);
  }
  return terms.length === 0 ? null : terms.join(' ');
}
