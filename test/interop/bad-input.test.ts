// Hostile or broken input against the running gateway process. What an
// operator checks: each gets a protocol-correct refusal (or a clean close),
// the gateway keeps serving normal requests afterwards, and memory stays
// bounded after thousands of bad requests.
import fs from 'node:fs';
import net from 'node:net';
import { Gateway } from './helpers/gateway';
import { icapOptions, icapRaw } from './helpers/icap-raw';
import { plainBody, startOrigin, type Origin } from './helpers/origin';
import { curl } from './helpers/curl';

let origin: Origin;
let gw: Gateway;

beforeAll(async () => {
  origin = await startOrigin();
  gw = await Gateway.start({ name: 'bad-input' });
});

afterAll(async () => {
  await gw?.cleanup();
  await origin?.close();
});

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error('no VmRSS');
  return Number(m[1]);
}

/** The gateway still does its job on both kinds of door. */
async function stillServes(): Promise<void> {
  const opt = await icapOptions(gw.ports.icap, '/reqmod');
  expect(opt.status).toBe(200);
  const r = await curl(['--socks5-hostname', `127.0.0.1:${gw.ports.socks5}`, `${origin.base}/alive`]);
  expect(r.code).toBe(0);
  expect(r.body.toString()).toBe(plainBody('GET', '/alive'));
}

const icapHead = (line: string, extra = ''): string => `${line}\r\nHost: 127.0.0.1\r\n${extra}\r\n`;

const POST_HEAD = 'POST http://127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\n';

/** A well-formed ICAP head encapsulating one HTTP head (correct offsets) plus `body` bytes. */
function withHttp(line: string, kind: 'req' | 'res', httpHead: string, body: string): string {
  const enc = `${kind}-hdr=0, ${kind}-body=${Buffer.byteLength(httpHead)}`;
  return icapHead(line, `Encapsulated: ${enc}\r\n`) + httpHead + body;
}

describe('ICAP port', () => {
  const cases: Array<[string, number, string | Buffer]> = [
    ['binary garbage request line', 400, Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x0d, 0x0a, 0x0d, 0x0a])],
    ['request line without version', 400, 'REQMOD icap://127.0.0.1/reqmod\r\nHost: x\r\n\r\n'],
    ['wrong protocol version', 505, icapHead('OPTIONS icap://127.0.0.1/reqmod ICAP/9.9')],
    [
      'Encapsulated with a non-numeric offset',
      400,
      icapHead('REQMOD icap://127.0.0.1/reqmod ICAP/1.0', 'Encapsulated: req-hdr=abc, null-body=xyz\r\n'),
    ],
    [
      'invalid chunk size in the body',
      400,
      withHttp('REQMOD icap://127.0.0.1/reqmod ICAP/1.0', 'req', POST_HEAD, 'ZZZZ\r\nhello\r\n0\r\n\r\n'),
    ],
    [
      'RESPMOD sent to the REQMOD-only service',
      405,
      withHttp('RESPMOD icap://127.0.0.1/reqmod ICAP/1.0', 'res', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n', '5\r\nhello\r\n0\r\n\r\n'),
    ],
    ['unknown method', 501, icapHead('FROB icap://127.0.0.1/reqmod ICAP/1.0')],
    ['unknown service', 404, icapHead('OPTIONS icap://127.0.0.1/no-such-service ICAP/1.0')],
  ];

  test.each(cases)('%s -> ICAP/1.0 %d, and the gateway still serves', async (_label, status, bytes) => {
    const r = await icapRaw(gw.ports.icap, bytes);
    expect(r.statusLine).toMatch(new RegExp(`^ICAP/1\\.0 ${status}\\b`));
    // RFC 3507 §4.7: ISTag is in every response, errors included.
    expect(r.headers.get('istag')).toMatch(/^"[^"]+"$/);
    await stillServes();
  });

  test('a header block over the 64 KiB limit is refused, not buffered', async () => {
    const big = `X-Junk: ${'a'.repeat(4000)}\r\n`.repeat(40); // ~160 KiB
    const r = await icapRaw(gw.ports.icap, icapHead('OPTIONS icap://127.0.0.1/reqmod ICAP/1.0', big));
    // A 4xx answer or a plain close are both acceptable refusals; a 200 is not.
    if (r.status !== 0) expect(r.status).toBeGreaterThanOrEqual(400);
    else expect(r.closed).toBe(true);
    await stillServes();
  });
});

/**
 * Writes bytes to the SOCKS door, returns what came back before close or
 * timeout (or as soon as `enough` bytes arrived, for the bulk loop).
 */
function socksRaw(bytes: Buffer, timeoutMs = 3000, enough = Infinity): Promise<{ reply: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port: gw.ports.socks5 });
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(t);
      sock.destroy();
      resolve({ reply: Buffer.concat(chunks), closed });
    };
    const t = setTimeout(() => finish(false), timeoutMs);
    sock.on('connect', () => sock.write(bytes));
    sock.on('data', (c: Buffer) => {
      chunks.push(c);
      if (Buffer.concat(chunks).length >= enough) finish(false);
    });
    sock.on('end', () => finish(true));
    sock.on('close', () => finish(true));
    sock.on('error', () => finish(true));
  });
}

describe('SOCKS5 port', () => {
  const greeting = Buffer.from([0x05, 0x01, 0x00]);
  const req = (cmd: number, atyp: number, addr: number[]): Buffer =>
    Buffer.concat([greeting, Buffer.from([0x05, cmd, 0x00, atyp, ...addr, 0x1f, 0x90])]);

  test('HTTP bytes sent to the SOCKS port: closed without a proxy reply', async () => {
    const r = await socksRaw(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(r.closed).toBe(true);
    expect(r.reply.length).toBe(0);
    await stillServes();
  });

  test('a SOCKS4 request is closed', async () => {
    const r = await socksRaw(Buffer.from([0x04, 0x01, 0x1f, 0x90, 127, 0, 0, 1, 0x00]));
    expect(r.closed).toBe(true);
    await stillServes();
  });

  test('no acceptable auth method -> 05 FF, then close', async () => {
    const r = await socksRaw(Buffer.from([0x05, 0x01, 0x80]));
    expect(r.reply.subarray(0, 2)).toEqual(Buffer.from([0x05, 0xff]));
    expect(r.closed).toBe(true);
    await stillServes();
  });

  test('BIND -> full 10-byte reply with code 07 (command not supported)', async () => {
    const r = await socksRaw(req(0x02, 0x01, [127, 0, 0, 1]));
    expect(r.reply.subarray(0, 2)).toEqual(Buffer.from([0x05, 0x00])); // method choice
    const reply = r.reply.subarray(2);
    expect(reply.length).toBe(10);
    expect(reply[1]).toBe(0x07);
    await stillServes();
  });

  test('unknown address type -> full reply with code 08', async () => {
    const r = await socksRaw(req(0x01, 0x09, [1, 2, 3, 4]));
    const reply = r.reply.subarray(2);
    expect(reply.length).toBe(10);
    expect(reply[1]).toBe(0x08);
    await stillServes();
  });

  test('a greeting cut short and left idle is closed by the handshake timeout or stays harmless', async () => {
    const r = await socksRaw(Buffer.from([0x05]), 1500);
    expect(r.reply.length).toBe(0);
    await stillServes();
  });
});

test('HTTP proxy door: a garbage request line gets 400', async () => {
  const r = await new Promise<string>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port: gw.ports.http }, () => s.write('\x01\x02garbage\r\n\r\n'));
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    s.on('error', () => undefined);
    s.setTimeout(3000, () => s.destroy());
  });
  expect(r).toMatch(/^HTTP\/1\.[01] 400/);
  await stillServes();
});

test('RSS stays bounded after thousands of malformed requests', async () => {
  const pid = gw.pid;
  // Warm up so lazy allocations (JIT, buffers) are not counted as growth.
  await runMany(300);
  const before = rssKiB(pid);
  await runMany(3000);
  const after = rssKiB(pid);
  // A leak of even 20 KiB per request would add ~60 MiB; allow GC noise.
  expect(after - before).toBeLessThan(40 * 1024);
  await stillServes();
});

/** n bad requests, 20 at a time, alternating ICAP and SOCKS garbage. */
async function runMany(n: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      if (i % 2 === 0) {
        await icapRaw(gw.ports.icap, `REQMOD icap://127.0.0.1/reqmod ICAP/1.0\r\nHost: x\r\nEncapsulated: bogus=${i}\r\n\r\n`, {
          timeoutMs: 3000,
        });
      } else {
        await socksRaw(Buffer.from([0x05, 0x01, 0x00, 0x05, 0x09, 0x00, 0x07, i & 255]), 3000, 12);
      }
    }
  };
  await Promise.all(Array.from({ length: 20 }, worker));
}

test('imgate stops on SIGTERM with exit code 0', async () => {
  expect(await gw.stop()).toEqual({ code: 0, signal: null });
});
