// Event ids: a per-process random prefix plus a counter. Unique for a run,
// short enough to read out over the phone, and no crypto call per event.
import { randomBytes } from 'node:crypto';

const prefix = randomBytes(4).toString('hex');
let counter = 0;

export function newEventId(): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return `${prefix}-${counter.toString(36)}`;
}
