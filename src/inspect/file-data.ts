// Data connections a protocol announced (an IRC DCC SEND offer, decided
// before the dial in expected.ts). The file flows from the offerer (the
// upstream: the client connected to the offer's address) to the client; that
// direction is relayed here chunk by chunk into the client AND a FileTransfer
// (sha256, size, AV, archive: see file-transfer.ts), reading the next chunk
// only when both took the last one. The other direction (DCC acks) is piped.
// When the offerer's side ends, one 'file' event records the transfer; if the
// scan blocks it and the connection is still open, the connection is cut.
import type { Socket } from 'node:net';
import type { ExpectedConnection } from '../protocols/types';
import type { TunnelHandle } from '../relay/relay';
import type { TunnelFacts } from './context';
import { FileTransfer, type FileDeps } from './file-transfer';
import type { InspectSettings } from './settings';
// Side effect: tunnel contexts offer openFile() to dissectors (XMPP IBB).

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

/** src -> dest and src -> transfer; src is read again only when both drained. */
function teeRelay(src: Socket, dest: Socket, transfer: FileTransfer): void {
  let destWaiting = false;
  let transferWaiting = false;
  const maybeResume = (): void => {
    if (!destWaiting && !transferWaiting && !src.destroyed) src.resume();
  };
  const onDestDrain = (): void => {
    destWaiting = false;
    maybeResume();
  };
  const onTransferDrain = (): void => {
    transferWaiting = false;
    maybeResume();
  };
  src.on('data', (chunk: Buffer) => {
    if (!dest.destroyed && !dest.writableEnded && !dest.write(chunk)) {
      destWaiting = true;
      dest.once('drain', onDestDrain);
    }
    if (!transfer.write(chunk)) {
      transferWaiting = true;
      transfer.onDrain(onTransferDrain);
    }
    if (destWaiting || transferWaiting) src.pause();
  });
  src.once('end', () => {
    if (!dest.destroyed && !dest.writableEnded) dest.end();
    transfer.end(true);
  });
  // Closed without FIN (reset, idle timeout, gateway stop): what crossed is a partial transfer.
  src.once('close', () => transfer.end(false));
  dest.once('close', () => {
    // Nobody reads any more: stop waiting for a drain that will not come.
    if (!destWaiting) return;
    dest.removeListener('drain', onDestDrain);
    onDestDrain();
  });
}

export function startFileData(deps: FileDeps, t: TunnelHandle, facts: TunnelFacts, settings: InspectSettings, expected: ExpectedConnection): FileTransfer {
  const transfer = new FileTransfer(deps, facts, settings, expected.event, {
    offer: expected.offer,
    onBlock: (why) => {
      if (!t.client.destroyed || !t.upstream.destroyed) t.fail(why);
    },
  });
  if (t.head.length > 0) t.upstream.write(t.head);
  t.client.pipe(t.upstream);
  teeRelay(t.upstream, t.client, transfer);
  return transfer;
}
