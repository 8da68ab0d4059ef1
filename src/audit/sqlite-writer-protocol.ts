// Messages between the store (main thread) and its writer thread.
import type { Deleted } from './sqlite-write';

/** 'crash' throws inside the thread (tests of the restart path; a terminate() mid-transaction can take the process down). */
export type WriterOp = 'write' | 'putFile' | 'deleteBefore' | 'deleteOldest' | 'close' | 'crash';

export interface WriterRequest {
  id: number;
  op: WriterOp;
  args: unknown;
}

export type WriterReply =
  | { ready: true }
  | { fatal: string }
  | { id: number; ok: true; result: Deleted | null }
  | { id: number; ok: false; error: string };
