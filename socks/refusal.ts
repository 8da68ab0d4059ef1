// One table from refusal reason to the reply each door sends, plus the
// mapping of raw socket errors (when a dial hook rejects without DialError).
import type { DoorHooks, DoorLogger, PartialTunnelRequest, RefusalReason, RefusedKind } from './types';
import { DialError } from './types';

/** RFC 1928 §6 REP codes. */
export const SOCKS_REPLY_CODE: Readonly<Record<RefusalReason, number>> = {
  'general-failure': 0x01,
  'not-allowed': 0x02,
  'network-unreachable': 0x03,
  'host-unreachable': 0x04,
  'connection-refused': 0x05,
  'ttl-expired': 0x06,
  'command-not-supported': 0x07,
  'address-type-not-supported': 0x08,
};

export const HTTP_STATUS: Readonly<Record<RefusalReason, number>> = {
  'general-failure': 502,
  'not-allowed': 403,
  'network-unreachable': 502,
  'host-unreachable': 502,
  'connection-refused': 502,
  'ttl-expired': 504,
  'command-not-supported': 405,
  'address-type-not-supported': 400,
};

function errnoOf(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** Reason for a dial failure: the DialError's own, else guessed from errno. */
export function reasonOfDialError(err: unknown): RefusalReason {
  if (err instanceof DialError) return err.reason;
  switch (errnoOf(err)) {
    case 'ECONNREFUSED':
      return 'connection-refused';
    case 'ENETUNREACH':
      return 'network-unreachable';
    case 'EHOSTUNREACH':
    case 'EHOSTDOWN':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NONAME':
      return 'host-unreachable';
    case 'ETIMEDOUT':
    case 'ESOCKETTIMEDOUT':
      return 'ttl-expired';
    default:
      return 'general-failure';
  }
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * One refusal: the door's own log line (`fields`, `msg`), then the hooks.
 * A throwing onRefused is logged, never propagated: a refusal must not turn
 * into a crash of the door.
 */
export function reportRefusal(hooks: DoorHooks, logger: DoorLogger, req: PartialTunnelRequest, kind: RefusedKind, detail: string, fields: object, msg: string): void {
  logger.info(fields, msg);
  try {
    hooks.onRefused?.(req, kind, detail);
  } catch (err) {
    logger.error({ door: req.door, conn: req.id, err: messageOf(err) }, 'onRefused hook threw');
  }
}
