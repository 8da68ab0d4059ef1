// The policy most IM interop tests share: allow by default, block "project
// falcon", mask card numbers; each test appends its own rules. One copy, so
// the tests agree on what a banned and a redacted message look like.
export const NO_FALCON_RULE = `  - id: no-falcon
    when: { kind: message, text_matches: ["(?i)project\\\\s+falcon"] }
    then: block
`;

export const MASK_CARDS_RULE = `  - id: mask-cards
    when: { kind: message, text_matches: ["\\\\b\\\\d{4}[ -]?\\\\d{4}[ -]?\\\\d{4}[ -]?\\\\d{4}\\\\b"] }
    then: redact
`;

/** default allow, no-falcon, mask-cards, then `extraRules` (YAML list items, indented two spaces). */
export function imPolicy(extraRules = ''): string {
  return `default: allow\nrules:\n${NO_FALCON_RULE}${MASK_CARDS_RULE}${extraRules}`;
}

/** The two XMPP accounts the prosody tests register. */
export const XMPP_USERS: Array<{ name: string; password: string }> = [
  { name: 'alice', password: 'alicepw' },
  { name: 'bob', password: 'bobpw' },
];
