// One TLS tunnel: hold the client's first bytes until the ClientHello is
// read, decide one 'connection' event (app from SNI), then either close
// (blocked: without the keys there is no alert to send, closing is the
// answer) or forward the held bytes unchanged and let go (passthrough).
import type { DissectorSession, EventDraft, SessionContext, SessionOutput, Side } from '../types';
import type { AppCatalog } from './apps';
import { ClientHelloReader } from './reader';

/** Largest ClientHello body read (post-quantum key shares make them ~2 KiB today). */
export const MAX_CLIENT_HELLO = 16_384;

export class TlsSession implements DissectorSession {
  passthrough = false;
  private reader: ClientHelloReader | null;
  private held: Buffer[] = [];

  constructor(
    private readonly ctx: SessionContext,
    private readonly out: SessionOutput,
    private readonly apps: AppCatalog,
  ) {
    this.reader = new ClientHelloReader(Math.min(MAX_CLIENT_HELLO, ctx.options.maxUnitBytes));
  }

  push(from: Side, chunk: Buffer): void {
    if (this.passthrough || from === 's2c' || this.reader === null) {
      // Nothing to read server-side before the ClientHello; after the
      // decision the relay pipes, but a replayer may still push.
      this.out.forward(from, chunk);
      return;
    }
    this.held.push(chunk);
    if (this.reader.push(chunk) === 'done') this.decide();
  }

  end(from: Side): void {
    if (from !== 'c2s' || this.reader === null) return;
    // A client that hangs up mid-hello is still recorded, and what it sent
    // is still delivered if policy allows it.
    this.reader.truncate();
    this.decide();
  }

  private decide(): void {
    const reader = this.reader as ClientHelloReader;
    this.reader = null;
    const sni = reader.info?.sni;
    const alpn = reader.info?.alpn;
    const app = this.apps.classify(sni);
    const detail: NonNullable<EventDraft['detail']> = {};
    if (sni !== undefined) detail.sni = sni;
    if (alpn !== undefined) detail.alpn = alpn.join(',');
    if (reader.error !== null) detail.error = reader.error;
    const draft: EventDraft = { kind: 'connection', side: 'c2s', protocol: 'tls', detail };
    if (app !== undefined) draft.app = app;
    const verdict = this.ctx.decide(draft);
    const held = this.held;
    this.held = [];
    // 'redact' has nothing to mask in an encrypted stream: like the
    // connection decision before the dial, it lets the tunnel through.
    if (verdict.action === 'block') {
      this.out.close(`blocked by policy: rule ${verdict.rule} (tls app ${app ?? '-'}, sni ${sni ?? '-'})`);
      return;
    }
    this.passthrough = true;
    for (const c of held) this.out.forward('c2s', c);
  }
}
