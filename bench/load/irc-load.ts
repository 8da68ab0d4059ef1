// IRC load generator (own process). Two raw clients join one channel on
// ngircd: the receiver always connects directly, the sender directly or
// through a proxy, so the only difference between runs is the sender's path.
//   latency: closed loop, one PRIVMSG in flight; per-message delivery time
//            (sender write -> receiver read, same process clock).
//   bulk:    the sender pushes `count` long PRIVMSG lines as fast as it
//            may: at most WINDOW lines not yet seen by the receiver, because
//            ngircd drops a client whose 32 KiB write buffer fills (an
//            unpaced flood gets the receiver killed, measured: "Write buffer
//            space exhausted"). bytes/s until the receiver has them all.
// argv: mode via proxyPort ircPort secs count lineBytes tag
// Prints one JSON line.
import { ircJoin, type IrcConn } from './irc-raw';
import type { Mode } from './handshake';

const [mode, via, proxyPort, ircPort, secsArg, countArg, lineArg, tag] = process.argv.slice(2);
const secs = Number(secsArg);
const count = Number(countArg);
const lineBytes = Number(lineArg);
const channel = `#bench${tag}`;
/** Lines in flight in bulk mode: 32 x ~510 B delivered stays under ngircd's 32 KiB write buffer. */
const WINDOW = 32;

function q(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : NaN;
}

function latency(tx: IrcConn, rx: IrcConn): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const lat: number[] = [];
    const pad = 'x'.repeat(Math.max(0, lineBytes - 40));
    const t0 = process.hrtime.bigint();
    const deadline = Date.now() + secs * 1000;
    let seq = 0;
    let sentAt = 0n;
    const send = (): void => {
      if (seq >= count || Date.now() >= deadline) {
        const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
        lat.sort((a, b) => a - b);
        resolve({ msgs: lat.length, secs: elapsed, rate: lat.length / elapsed, p50_us: q(lat, 0.5), p99_us: q(lat, 0.99), mean_us: lat.reduce((a, b) => a + b, 0) / (lat.length || 1) });
        return;
      }
      seq++;
      sentAt = process.hrtime.bigint();
      tx.sock.write(`PRIVMSG ${channel} :${seq} ${pad}\r\n`);
    };
    rx.onLine = (l) => {
      const i = l.indexOf(` PRIVMSG ${channel} :`);
      if (i < 0) return;
      const n = parseInt(l.slice(i + channel.length + 11), 10);
      if (n !== seq) return; // not the message in flight (cannot happen closed-loop, but be strict)
      lat.push(Number(process.hrtime.bigint() - sentAt) / 1e3);
      send();
    };
    send();
  });
}

function bulk(tx: IrcConn, rx: IrcConn): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const head = `PRIVMSG ${channel} :`;
    const line = Buffer.from(`${head}${'y'.repeat(lineBytes - head.length - 2)}\r\n`, 'latin1');
    let sent = 0;
    let got = 0;
    const t0 = process.hrtime.bigint();
    const finish = (error?: string): void => {
      clearTimeout(timer);
      const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
      resolve({ msgs: got, secs: elapsed, bytes: got * line.length, MBps: (got * line.length) / 1e6 / elapsed, rate: got / elapsed, ...(error ? { error } : {}) });
    };
    const timer = setTimeout(() => finish(`timeout: ${got}/${count} delivered in ${secs} s`), secs * 1000);
    rx.onLine = (l) => {
      if (!l.includes(' PRIVMSG ')) return;
      if (++got === count) finish();
      else pump();
    };
    // Top the window up; socket backpressure cannot bind first (32 lines < socket buffer).
    const pump = (): void => {
      while (sent < count && sent - got < WINDOW) {
        sent++;
        tx.sock.write(line);
      }
    };
    pump();
  });
}

async function main(): Promise<void> {
  const hardStop = setTimeout(() => { console.log(JSON.stringify({ error: 'hard timeout' })); process.exit(2); }, (secs + 30) * 1000);
  const rx = await ircJoin({ mode: 'direct', proxyPort: 0, dstPort: Number(ircPort) }, `rx${tag}`, channel);
  const tx = await ircJoin({ mode: via as Mode, proxyPort: Number(proxyPort), dstPort: Number(ircPort) }, `tx${tag}`, channel);
  const r = mode === 'bulk' ? await bulk(tx, rx) : await latency(tx, rx);
  console.log(JSON.stringify({ mode, via, lineBytes, ...r }));
  clearTimeout(hardStop);
  tx.sock.end('QUIT\r\n');
  rx.sock.end('QUIT\r\n');
  setTimeout(() => process.exit(0), 100);
}

main().catch((e: unknown) => { console.log(JSON.stringify({ error: (e as Error).message })); process.exit(1); });
