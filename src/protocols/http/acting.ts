// A SessionContext that counts the verdicts changing bytes (block, redact):
// the HTTP carriers of MSNP and YMSG compare a body before and after its
// inner session, and a change without such a verdict means the body was not
// whole, clean protocol (the chain then passes unread).
import type { SessionContext } from '../types';

export function actingContext(ctx: SessionContext, acted: () => void): SessionContext {
  return {
    conn: ctx.conn,
    destination: ctx.destination,
    options: ctx.options,
    log: ctx.log,
    decide: (d) => {
      const v = ctx.decide(d);
      if (v.action === 'block' || v.action === 'redact') acted();
      return v;
    },
    redact: (t, v) => ctx.redact(t, v),
  };
}
