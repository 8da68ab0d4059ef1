// One bulk transfer: sender -> (proxy) -> sink. Times from "tunnel up" to the
// sink's 'K' (all bytes delivered), so handshakes are excluded and nothing
// still sitting in socket buffers is counted. Prints one JSON line.
//   node dist/bench/load/bulk-client.js MODE PROXY_PORT SINK_PORT BYTES
import { openTunnel, parseTarget } from './handshake';

const target = parseTarget(process.argv.slice(2, 5));
const total = Number(process.argv[5]);
const CHUNK = Buffer.alloc(1 << 20, 0x61); // reused: no per-write allocation

openTunnel(target, (err, s, rest) => {
  if (err) { console.log(JSON.stringify({ error: err.message })); process.exit(1); }
  if (rest.length) { console.log(JSON.stringify({ error: 'unexpected bytes before transfer' })); process.exit(1); }
  const t0 = process.hrtime.bigint();
  const head = Buffer.alloc(8);
  head.writeBigUInt64BE(BigInt(total));
  s.write(head);
  let left = total;
  const pump = (): void => {
    while (left > 0) {
      const n = Math.min(left, CHUNK.length);
      left -= n;
      if (!s.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) { s.once('drain', pump); return; }
    }
  };
  s.once('data', () => {
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(JSON.stringify({ mode: target.mode, bytes: total, secs, mbps: total / secs / 1e6 }));
    s.destroy();
    process.exit(0);
  });
  s.on('error', (e) => { console.log(JSON.stringify({ error: e.message })); process.exit(1); });
  pump();
});
