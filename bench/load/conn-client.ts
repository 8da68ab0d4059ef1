// Connections/s, closed loop: CLIENTS workers each repeat
//   connect -> handshake -> 16-byte request -> 64-byte response + FIN -> close
// for SECS seconds. A connection counts when the response and the server's
// FIN arrived. Prints one JSON line with rate and connection latency.
//   node dist/bench/load/conn-client.js MODE PROXY_PORT ORIGIN_PORT CLIENTS SECS
import { openTunnel, parseTarget } from './handshake';
import { REQUEST, RESPONSE } from './wire';

const target = parseTarget(process.argv.slice(2, 5));
const clients = Number(process.argv[5]);
const secs = Number(process.argv[6]);
const PER_CONN_TIMEOUT_MS = 10000;

let done = 0;
let errors = 0;
let firstError = '';
let stop = false;
const lat: number[] = [];

function once(): void {
  if (stop) return;
  const t0 = process.hrtime.bigint();
  let finished = false;
  const end = (err: Error | null): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    if (err) { errors++; if (!firstError) firstError = err.message; }
    else if (!stop) { done++; lat.push(Number(process.hrtime.bigint() - t0) / 1e6); }
    sock.destroy();
    // Errors back off briefly so a refusing proxy does not spin the CPU.
    if (err) setTimeout(once, 10); else setImmediate(once);
  };
  const timer = setTimeout(() => end(new Error('connection timeout')), PER_CONN_TIMEOUT_MS);
  const sock = openTunnel(target, (err, s, rest) => {
    if (err) return end(err);
    let got = rest.length;
    s.on('data', (d: Buffer) => { got += d.length; });
    s.on('end', () => end(got >= RESPONSE.length ? null : new Error(`short response ${got}`)));
    s.on('error', (e) => end(e));
    s.write(REQUEST);
  });
}

const t0 = Date.now();
for (let i = 0; i < clients; i++) once();
setTimeout(() => {
  stop = true;
  const elapsed = (Date.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
  console.log(JSON.stringify({ mode: target.mode, clients, secs: elapsed, conns: done, cps: done / elapsed, errors, firstError, p50_ms: q(0.5), p99_ms: q(0.99) }));
  // Let in-flight sockets close instead of leaving them half-open on the proxy.
  setTimeout(() => process.exit(0), 300);
}, secs * 1000);
