// Where a dissector hands the bytes of a file it reassembles from its own
// stream (XMPP IBB, MSNP2P data over a switchboard). The gateway's tunnel
// context offers `openFile` (SessionContext in src/protocols/types.ts): its
// sink hashes the bytes, streams them to the AV scanners and the archive, and
// records the completed-transfer event once the verdict is in. Contexts
// without it (the capture replayer, unit harnesses) get DecideSink: hash +
// size, and the event decided at once.
import { createHash, type Hash } from 'node:crypto';
import type { EventDraft, FileDataSink, SessionContext, VerdictSink } from '../types';

export type { FileDataSink, FileVerdict, VerdictSink } from '../types';

export function isVerdictSink(s: FileDataSink): s is VerdictSink {
  return 'verdict' in s && 'scanning' in s && 'verdictWait' in s;
}

/** 'complete' when the transfer ended normally and its size is what was declared (if anything was). */
export function transferState(ended: boolean, declared: number | undefined, size: number): 'complete' | 'partial' {
  return ended && (declared === undefined || declared === size) ? 'complete' : 'partial';
}

/** The completed-transfer draft for what a sink saw. */
export function completedDraft(draft: EventDraft, ended: boolean, size: number, sha256: string, extra?: Record<string, string | number | boolean>): EventDraft {
  const declared = draft.file?.size;
  return {
    ...draft,
    file: { ...draft.file, size, sha256 },
    detail: {
      ...draft.detail,
      ...extra,
      transfer: transferState(ended, declared, size),
      ...(declared !== undefined ? { offeredSize: declared } : {}),
    },
  };
}

/** Without a gateway host: hash and count, then decide the completed transfer synchronously. */
export class DecideSink implements FileDataSink {
  private hash: Hash | null = createHash('sha256');
  private size = 0;

  constructor(
    private readonly ctx: SessionContext,
    private readonly draft: EventDraft,
  ) {}

  write(chunk: Buffer): void {
    if (this.hash === null) return;
    this.hash.update(chunk);
    this.size += chunk.length;
  }

  end(ended: boolean, detail?: Record<string, string | number | boolean>): void {
    if (this.hash === null) return;
    const sha = this.hash.digest('hex');
    this.hash = null;
    this.ctx.decide(completedDraft(this.draft, ended, this.size, sha, detail));
  }
}

export function openFileSink(ctx: SessionContext, draft: EventDraft): FileDataSink {
  return ctx.openFile !== undefined ? ctx.openFile(draft) : new DecideSink(ctx, draft);
}
