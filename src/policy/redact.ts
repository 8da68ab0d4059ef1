// Applies a 'redact' verdict to a message text: every match of the matched
// rule's text_matches patterns becomes '****'. The patterns are compiled
// once per policy load (global flag added), never per message.
export const REDACTION_MASK = '****';

/**
 * Masks the matches of `patterns` in `text`. A redact rule without
 * text_matches (or the 'default' action) has nothing to aim at, so the whole
 * text is masked: redaction must never let the text through unchanged.
 */
export function redactText(text: string, patterns: readonly RegExp[] | null): string {
  if (patterns === null) return text.length === 0 ? text : REDACTION_MASK;
  let out = text;
  // String.replace with a global RegExp starts at 0 and leaves lastIndex at 0,
  // so the shared RegExp objects are safe to reuse.
  for (const re of patterns) out = out.replace(re, REDACTION_MASK);
  return out;
}
