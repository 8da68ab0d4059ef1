// Shared bits for the record store tests: temp dirs and events shaped like
// the ones the dissectors produce.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { ImEvent, Verdict } from '../../../src/events/types';
import type { AuditRecord } from '../../../src/audit/types';

export const silent = pino({ level: 'silent' });

export function tempDir(): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'imgate-audit-'));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

let n = 0;
export function ev(over: Partial<ImEvent> = {}): ImEvent {
  n++;
  return {
    id: `t-${n}`,
    time: Date.now(),
    conn: 'c1',
    door: 'socks5',
    clientIp: '127.0.0.1',
    user: 'alice',
    groups: [],
    protocol: 'irc',
    direction: 'out',
    account: 'alice',
    peer: '#imgate',
    kind: 'message',
    text: 'hello',
    host: '127.0.0.1',
    destination: { host: '127.0.0.1', port: 6667 },
    ...over,
  };
}

export function rec(over: Partial<ImEvent> = {}, verdict: Verdict = { action: 'allow', rule: 'default' }, detail?: Record<string, unknown>): AuditRecord {
  const e = ev(over);
  e.verdict = verdict;
  return detail ? { ev: e, verdict, detail } : { ev: e, verdict };
}
