// Data connections a protocol announced (an IRC DCC SEND offer, an OSCAR
// rendezvous, decided before the dial in expected.ts). The file flows from
// the offerer (the upstream: the client connected to the offer's address) to
// the client, or, for an OSCAR reverse rendezvous (ExpectedConnection.fileFrom
// 'client'), from the client to the receiver it dialled. That direction is
// relayed by HeldFileRelay (held-relay.ts): into its destination AND a
// FileTransfer (sha256, size, AV, archive: see file-transfer.ts), with the
// file's last bytes held back until the AV verdict, so an infected file never
// arrives whole; a framed connection carrying several files (OFT2) gets one
// FileTransfer, event and verdict per file. The other direction (DCC acks,
// OFT acknowledgements) is piped.
import type { ExpectedConnection } from '../protocols/types';
import type { TunnelHandle } from '../relay/relay';
import type { TunnelFacts } from './context';
import { FileTransfer, type FileDeps } from './file-transfer';
import { HeldFileRelay } from './held-relay';
import type { InspectSettings } from './settings';

/** Allowed expected tunnels between the pre-dial decision and the data phase, by connection id (bounded). */
export class ExpectedTunnels {
  private readonly map = new Map<string, ExpectedConnection>();
  constructor(private readonly max: number) {}
  add(id: string, e: ExpectedConnection): void {
    this.map.set(id, e);
    // A dial that failed never reaches the data phase: drop the oldest.
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
  }
  take(id: string): ExpectedConnection | undefined {
    const e = this.map.get(id);
    if (e !== undefined) this.map.delete(id);
    return e;
  }
}

export const expectedTunnels = new ExpectedTunnels(1024);

export function startFileData(deps: FileDeps, t: TunnelHandle, facts: TunnelFacts, settings: InspectSettings, expected: ExpectedConnection): FileTransfer {
  const transfer = new FileTransfer(deps, facts, settings, expected.event, { offer: expected.offer });
  const payload = expected.payload?.() ?? null;
  // Only a framed connection's payload knows where the file ends; a raw DCC
  // connection carries exactly the offered size (when one was offered).
  const size = expected.event.file?.size;
  const declared = payload === null && size !== undefined && size > 0 ? size : undefined;
  // The file flows from the client when the client dialled a receiver and
  // sends (OSCAR reverse rendezvous); else from the dialled upstream.
  const fromClient = expected.fileFrom === 'client';
  const [src, dest] = fromClient ? [t.client, t.upstream] : [t.upstream, t.client];
  const relay = new HeldFileRelay(src, dest, transfer, {
    holdBack: transfer.holdBackBytes,
    declared,
    payload,
    // A framed connection may carry further files (OFT2): each is its own event and verdict, named by its own framing.
    nextTransfer: (d, index) =>
      new FileTransfer(deps, facts, settings, { ...expected.event, file: { ...d }, detail: { ...expected.event.detail, file_index: index } }, { offer: expected.offer }),
    cut: (why) => t.fail(why),
    // The transfer is recorded as partial either way; this says why the file could not be followed.
    framingFailed: (why) =>
      deps.logger.warn({ conn: facts.conn, client: facts.clientIp, user: facts.user, protocol: expected.event.protocol, file: expected.event.file?.name, reason: why }, 'file data connection: framing failed'),
  });
  if (fromClient) {
    t.upstream.pipe(t.client);
    relay.start(t.head);
  } else {
    if (t.head.length > 0) t.upstream.write(t.head);
    t.client.pipe(t.upstream);
    relay.start();
  }
  return transfer;
}
