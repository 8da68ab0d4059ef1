// One direction of a tunnel that needs no more inspection: src -> dst.
//
// It starts as `src.pipe(dst)`. Node reads a socket 64 KiB at a time into a
// freshly allocated Buffer and runs it through the Readable/Writable
// machinery; for bulk traffic that per-chunk cost is what separates a Node
// relay from HAProxy (bench: relay CPU per GiB, `node dist/bench/relay-main.js`).
// So once a direction shows it carries bulk (dst applied backpressure: the
// first 'drain'), it is upgraded to Node's user-buffer read path (the
// mechanism behind the public `onread` socket option, which Node offers only
// for sockets it creates, not accepted ones): the kernel reads straight into
// one reused buffer of UPGRADE_BYTES, and the callback writes that view
// through. The buffer is only reused once dst has taken every byte of it
// into the kernel: when a write cannot complete at once, reading stops until
// it has (that is the backpressure). Interactive tunnels never fill dst, keep
// the plain pipe and hold no buffer.
//
// The user-buffer path is reached through Node internals (the handle's
// useUserBuffer and the socket's kBuffer/kBufferCb fields); they are looked up
// once and, if this Node lacks them, every direction simply stays a pipe.
import net, { type Socket } from 'node:net';

/**
 * Read buffer of an upgraded direction. Relay CPU per GiB, same run (1 MiB
 * sender writes): pipe ~730 ms, 64 KiB ~560, 256 KiB ~450, 1 MiB ~375, with
 * equal MB/s for 256 KiB and 1 MiB; an upgraded direction holds its buffer
 * until the tunnel closes, so the smaller one is the default.
 */
export const UPGRADE_BYTES = 256 << 10;

type ReadCallback = (nread: number, buf: Buffer) => boolean;

interface UserBufferHandle {
  useUserBuffer(buf: Uint8Array): void;
}

interface Internals {
  kBuffer: symbol;
  kBufferCb: symbol;
}

function findInternals(): Internals | null {
  const probe = new net.Socket();
  const syms = Object.getOwnPropertySymbols(probe);
  const kBuffer = syms.find((s) => s.description === 'kBuffer');
  const kBufferCb = syms.find((s) => s.description === 'kBufferCb');
  probe.destroy();
  if (kBuffer === undefined || kBufferCb === undefined) return null;
  return { kBuffer, kBufferCb };
}

const internals: Internals | null = findInternals();

function userBufferHandle(s: Socket): UserBufferHandle | null {
  const h = (s as unknown as { _handle?: Partial<UserBufferHandle> | null })._handle;
  return h && typeof h.useUserBuffer === 'function' ? (h as UserBufferHandle) : null;
}

const upgraded = new WeakSet<Socket>();

/** Whether reads from `s` go through the reused buffer (for tests and diagnostics). */
export function isUpgraded(s: Socket): boolean {
  return upgraded.has(s);
}

/** Whether this Node offers the user-buffer path (otherwise passthrough is a plain pipe). */
export function userBufferAvailable(): boolean {
  return internals !== null;
}

/**
 * Relay src -> dst until src ends (then dst.end()). Errors and close are the
 * caller's (src/relay/relay.ts); this installs no error handling of its own.
 */
export function passthrough(src: Socket, dst: Socket): void {
  src.pipe(dst);
  if (internals === null) return;
  const onDrain = (): void => upgrade(src, dst, internals);
  dst.once('drain', onDrain);
  // A direction that ends while still a pipe must not upgrade afterwards.
  src.once('end', () => dst.removeListener('drain', onDrain));
}

function upgrade(src: Socket, dst: Socket, k: Internals): void {
  const handle = userBufferHandle(src);
  if (handle === null || src.destroyed || dst.destroyed || src.readableEnded || dst.writableEnded) return;
  src.pause();
  src.unpipe(dst);
  // Whatever the Readable already holds goes first, in order.
  for (let chunk = src.read() as Buffer | null; chunk !== null; chunk = src.read() as Buffer | null) dst.write(chunk);

  const buf = Buffer.allocUnsafe(UPGRADE_BYTES);
  let waiting = false;
  const afterWrite = (): void => {
    // Every byte queued on dst (ours and any earlier) is in the kernel: the buffer is free again.
    if (waiting && dst.writableLength === 0 && !src.destroyed) {
      waiting = false;
      src.resume();
    }
  };
  const onRead: ReadCallback = (nread, b) => {
    if (dst.destroyed || dst.writableEnded) return false;
    dst.write(b.subarray(0, nread), afterWrite);
    if (dst.writableLength === 0) return true;
    // dst kept (part of) the view: stop reading until it is written.
    waiting = true;
    return false;
  };
  const fields = src as unknown as Record<symbol, unknown>;
  handle.useUserBuffer(buf);
  fields[k.kBuffer] = buf;
  fields[k.kBufferCb] = onRead;
  upgraded.add(src);
  src.once('end', () => dst.end());
  if (dst.writableLength === 0) src.resume();
  else {
    waiting = true;
    // An empty write's callback runs after everything queued before it.
    dst.write(Buffer.alloc(0), afterWrite);
  }
}
