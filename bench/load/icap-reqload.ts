// Closed-loop ICAP REQMOD load generator, modelled line for line on
// bench/tools/icapload.mjs (which only does RESPMOD): same argv, same
// per-connection loop, same response-completion walk, same JSON line. The
// encapsulated request is a Mattermost post (POST /api/v4/posts, JSON body
// of exactly `size` bytes) to a host conf/webim.yaml lists, so imgate
// recognises it as web IM, reads the body and evaluates the policy.
// argv: host port service conns secs size mode(200|204) [http host]
// (the optional http host, e.g. one conf/webim.yaml does not list, measures
// the same request through the plain, non-IM path of the same service)
import net from 'node:net';

const [host = '127.0.0.1', port = '13440', service = 'echo', conns = '8', secs = '10', size = '1024', mode = '200', httpHost = 'mattermost.example'] = process.argv.slice(2);

function mattermostBody(n: number): Buffer {
  const head = '{"channel_id":"4xp9fdt7pbgium38k5k6f2qjyr","user_id":"bench1user9k8s7d6f5g4h3j2k","message":"';
  const tail = '"}';
  return Buffer.from(head + 'm'.repeat(Math.max(0, n - head.length - tail.length)) + tail, 'latin1');
}

const body = mattermostBody(Number(size));
const reqHdr = `POST http://${httpHost}/api/v4/posts HTTP/1.1\r\nHost: ${httpHost}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
const allow = mode === '204' ? 'Allow: 204\r\n' : '';
const icap = `REQMOD icap://${host}:${port}/${service} ICAP/1.0\r\nHost: ${host}\r\n${allow}Encapsulated: req-hdr=0, req-body=${reqHdr.length}\r\n\r\n`;
const msg = Buffer.concat([Buffer.from(icap + reqHdr), Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
let done = 0;
let errors = 0;
let stop = false;
const lat: number[] = [];
/** ICAP status codes seen (one addition over icapload: shows 200 echo vs 204 vs errors). */
const statuses: Record<string, number> = {};

/** Same walk as icapload.mjs: end offset of one complete ICAP response in buf, or -1. */
function responseComplete(buf: Buffer): number {
  const he = buf.indexOf('\r\n\r\n');
  if (he < 0) return -1;
  const head = buf.subarray(0, he).toString('latin1');
  const st = Number(head.split(' ')[1]);
  const enc = /Encapsulated:\s*([^\r\n]*)/i.exec(head);
  if (st === 204 || st === 100 || !enc) return he + 4;
  const parts: Record<string, number> = Object.fromEntries(enc[1]!.split(',').map((s) => s.trim().split('=')).map(([k, v]) => [k, Number(v)]));
  const base = he + 4;
  if ('null-body' in parts) return buf.length >= base + parts['null-body']! ? base + parts['null-body']! : -1;
  const bodyKey = Object.keys(parts).find((k) => k.endsWith('-body'))!;
  let p = base + parts[bodyKey]!;
  for (;;) {
    const le = buf.indexOf('\r\n', p);
    if (le < 0) return -1;
    const n = parseInt(buf.subarray(p, le).toString('latin1'), 16);
    if (n === 0) { const end = buf.indexOf('\r\n\r\n', le); return end < 0 ? -1 : end + 4; }
    p = le + 2 + n + 2;
    if (p > buf.length) return -1;
  }
}

function worker(): void {
  const s = net.connect(Number(port), host);
  s.setNoDelay(true);
  let buf: Buffer = Buffer.alloc(0);
  let t0 = 0n;
  const send = (): void => { if (stop) { s.end(); return; } t0 = process.hrtime.bigint(); s.write(msg); };
  s.on('connect', send);
  s.on('data', (d: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    const end = responseComplete(buf);
    if (end >= 0) { const st = buf.subarray(9, 12).toString('latin1'); statuses[st] = (statuses[st] ?? 0) + 1; done++; lat.push(Number(process.hrtime.bigint() - t0) / 1e6); buf = buf.subarray(end); send(); }
  });
  s.on('error', () => { errors++; });
}

for (let i = 0; i < Number(conns); i++) worker();
setTimeout(() => {
  stop = true;
  lat.sort((a, b) => a - b);
  const q = (p: number): string | undefined => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]?.toFixed(2);
  console.log(JSON.stringify({ service, conns: Number(conns), secs: Number(secs), size: Number(size), bodyBytes: body.length, mode, requests: done, rps: Number((done / Number(secs)).toFixed(0)), errors, statuses, p50_ms: q(0.5), p99_ms: q(0.99) }));
  setTimeout(() => process.exit(0), 300);
}, Number(secs) * 1000);
