// End-to-end tests of the ICAP server over real loopback sockets.
import { Readable } from 'node:stream';
import type { IcapRequest, IcapVerdict } from '../../../icap';
import { allowAll, chunked, memLogger, RawClient, reqmod, respmod, service, start, type Running } from './helpers';

const opened: Running[] = [];
const clients: RawClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.end();
  for (const s of opened.splice(0)) await s.close();
});
async function srv(...args: Parameters<typeof start>): Promise<Running> { const s = await start(...args); opened.push(s); return s; }
async function cli(port: number): Promise<RawClient> { const c = await RawClient.connect(port); clients.push(c); return c; }

async function readAll(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('OPTIONS', () => {
  test('advertises one method, quoted ISTag, preview and Transfer-Preview', async () => {
    const s = await srv();
    const c = await cli(s.port);
    c.write('OPTIONS icap://127.0.0.1/reqmod ICAP/1.0\r\nHost: 127.0.0.1\r\nAllow: 206, trailers\r\n\r\n');
    const r = await c.response();
    expect(r.status).toBe(200);
    expect(r.headers.get('methods')).toBe('REQMOD');
    expect(r.headers.get('istag')).toBe('"tag-1"');
    expect(r.headers.get('service-id')).toBe('imgate-test');
    expect(r.headers.get('serviceid')).toBe('imgate-test');
    expect(r.headers.get('max-connections')).toBe('50');
    expect(r.headers.get('options-ttl')).toBe('3600');
    expect(r.headers.get('preview')).toBe('1024');
    expect(r.headers.get('transfer-preview')).toBe('*');
    expect(r.headers.get('allow')).toBe('204');
    expect(r.headers.get('encapsulated')).toBe('null-body=0');
    expect(Math.abs(Date.parse(r.headers.get('date')!) - Date.now())).toBeLessThan(3000);
    c.write('OPTIONS icap://127.0.0.1/respmod ICAP/1.0\r\nHost: 127.0.0.1\r\n\r\n'); // same connection stays usable
    expect((await c.response()).headers.get('methods')).toBe('RESPMOD');
  });

  test('ISTag follows the istag() callback', async () => {
    let tag = 'a1';
    const s = await srv({ istag: () => tag });
    const c = await cli(s.port);
    c.write('OPTIONS icap://127.0.0.1/reqmod ICAP/1.0\r\nHost: h\r\n\r\n');
    expect((await c.response()).headers.get('istag')).toBe('"a1"');
    tag = 'b2';
    c.write(reqmod('/reqmod', null));
    expect((await c.response()).headers.get('istag')).toBe('"b2"');
  });
});

describe('allow verdict', () => {
  test('REQMOD without Allow: 204 and no preview is echoed byte for byte', async () => {
    const s = await srv();
    const c = await cli(s.port);
    const msg = reqmod('/reqmod', 'a=1&b=2');
    c.write(msg);
    const r = await c.response();
    expect(r.status).toBe(200);
    const encapIn = msg.slice(msg.indexOf('\r\n\r\n') + 4);
    expect(r.encap.toString('latin1')).toBe(encapIn);
    expect(r.headers.get('encapsulated')).toBe(/Encapsulated: ([^\r]*)/.exec(msg)![1]);
  });

  test('RESPMOD echo carries only res-hdr (never req-hdr) and the body', async () => {
    const s = await srv();
    const c = await cli(s.port);
    c.write(respmod('/respmod', 'hello world'));
    const r = await c.response();
    expect(r.status).toBe(200);
    const resHdr = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\n';
    expect(r.headers.get('encapsulated')).toBe(`res-hdr=0, res-body=${resHdr.length}`);
    expect(r.encap.subarray(0, resHdr.length).toString('latin1')).toBe(resHdr);
    expect(r.body.toString()).toBe('hello world');
  });

  test('Allow: 204 outside preview gives 204; null-body echo keeps null-body', async () => {
    const s = await srv();
    const c = await cli(s.port);
    c.write(respmod('/respmod', 'x'.repeat(5000), 'Allow: 204\r\n'));
    const r = await c.response();
    expect(r.status).toBe(204);
    expect(r.headers.get('istag')).toBe('"tag-1"');
    c.write(reqmod('/reqmod', null));
    const r2 = await c.response();
    expect(r2.status).toBe(200);
    expect(r2.headers.get('encapsulated')).toMatch(/^req-hdr=0, null-body=\d+$/);
  });

  test('preview: handler that does not read gets 204 right after the preview', async () => {
    const s = await srv();
    const c = await cli(s.port);
    const req = 'GET http://h/ HTTP/1.1\r\n\r\n';
    const res = 'HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n';
    c.write(`RESPMOD icap://h/respmod ICAP/1.0\r\nHost: h\r\nPreview: 16\r\nEncapsulated: req-hdr=0, res-hdr=${req.length}, res-body=${req.length + res.length}\r\n\r\n${req}${res}10\r\nAAAAAAAAAABBBBBB\r\n0\r\n\r\n`);
    expect((await c.response()).status).toBe(204);
  });

  test('null-body preview (CONNECT) is answered at once', async () => {
    const s = await srv();
    const c = await cli(s.port);
    const h = 'CONNECT 127.0.0.1:18080 HTTP/1.1\r\nHost: 127.0.0.1:18080\r\n\r\n';
    c.write(`REQMOD icap://127.0.0.1/reqmod ICAP/1.0\r\nHost: h\r\nEncapsulated: req-hdr=0, null-body=${h.length}\r\nPreview: 0\r\nAllow: 204, trailers\r\n\r\n${h}`);
    expect((await c.response()).status).toBe(204);
  });
});

describe('echo of a body that arrives in pieces', () => {
  async function splitEcho(announced: number, actual: number): Promise<void> {
    const s = await srv();
    const c = await cli(s.port);
    const body = Buffer.alloc(actual);
    for (let i = 0; i < actual; i++) body[i] = (i * 7) & 0xff;
    const req = 'GET http://h/ HTTP/1.1\r\n\r\n';
    const res = `HTTP/1.1 200 OK\r\nContent-Length: ${announced}\r\n\r\n`;
    c.write(`RESPMOD icap://h/respmod ICAP/1.0\r\nHost: h\r\nEncapsulated: req-hdr=0, res-hdr=${req.length}, res-body=${req.length + res.length}\r\n\r\n${req}${res}`);
    const step = 7000;
    for (let o = 0; o < actual; o += step) {
      const piece = body.subarray(o, Math.min(actual, o + step));
      c.write(Buffer.concat([Buffer.from(piece.length.toString(16) + '\r\n'), piece, Buffer.from('\r\n')]));
      await new Promise((r) => setTimeout(r, 2));
    }
    c.write('0\r\n\r\n');
    const r = await c.response(5000);
    expect(r.status).toBe(200);
    expect(r.body.equals(body)).toBe(true);
  }
  test('small known remainder (held, written once)', () => splitEcho(100000, 100000));
  test('unknown-size remainder streams', () => splitEcho(-1, 300000));
  test('client sending more than its Content-Length still gets a full echo', () => splitEcho(10, 400000));
});

describe('preview and 100 Continue', () => {
  function previewMsg(preview: string, ieof: boolean): string {
    const req = 'POST http://h/ HTTP/1.1\r\nContent-Length: 30\r\n\r\n';
    return `REQMOD icap://h/reqmod ICAP/1.0\r\nHost: h\r\nPreview: ${preview.length}\r\nAllow: 204\r\nEncapsulated: req-hdr=0, req-body=${req.length}\r\n\r\n${req}${chunked(preview, ieof)}`;
  }

  test('reading past the preview sends 100 only after the preview, then the full body arrives', async () => {
    let seen = '';
    const s = await srv({ services: [service('/reqmod', 'REQMOD', async (r) => { seen = (await readAll(r.body!)).toString(); return { kind: 'allow' }; })] });
    const c = await cli(s.port);
    const msg = previewMsg('AAAAAAAAAABBBBBB', false);
    c.write(msg.slice(0, msg.length - 5)); // preview not finished yet: no 100 allowed
    await new Promise((r) => setTimeout(r, 100));
    expect(c.pending().length).toBe(0);
    c.write(msg.slice(msg.length - 5));
    const cont = await c.response();
    expect(cont.status).toBe(100);
    c.write('e\r\nBBBBCCCCCCCCCC\r\n0\r\n\r\n');
    const r = await c.response();
    expect(r.status).toBe(204); // Allow: 204 was sent
    expect(seen).toBe('AAAAAAAAAABBBBBBBBBBCCCCCCCCCC');
  });

  test('never 100 after ieof: reading handler gets the preview as the whole body', async () => {
    let seen = '';
    const s = await srv({ services: [service('/reqmod', 'REQMOD', async (r) => { seen = (await readAll(r.body!)).toString(); return { kind: 'allow' }; })] });
    const c = await cli(s.port);
    c.write(previewMsg('small-body', true));
    const r = await c.response();
    expect(r.status).toBe(204);
    expect(seen).toBe('small-body');
  });

  test('echo after 100 without Allow: 204 replays the bytes the handler read', async () => {
    const s = await srv({ services: [service('/reqmod', 'REQMOD', async (r) => { await readAll(r.body!); return { kind: 'allow' }; })] });
    const c = await cli(s.port);
    const req = 'POST http://h/ HTTP/1.1\r\nContent-Length: 30\r\n\r\n';
    c.write(`REQMOD icap://h/reqmod ICAP/1.0\r\nHost: h\r\nPreview: 16\r\nEncapsulated: req-hdr=0, req-body=${req.length}\r\n\r\n${req}${chunked('AAAAAAAAAABBBBBB')}`);
    expect((await c.response()).status).toBe(100);
    c.write('e\r\nBBBBCCCCCCCCCC\r\n0\r\n\r\n');
    const r = await c.response();
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('AAAAAAAAAABBBBBBBBBBCCCCCCCCCC');
  });

  test('handler that read more than the replay buffer gets 500 on an echo', async () => {
    const logger = memLogger();
    const s = await srv({ logger, replayBufferBytes: 1024, services: [service('/respmod', 'RESPMOD', async (r) => { await readAll(r.body!); return { kind: 'allow' }; })] });
    const c = await cli(s.port);
    c.write(respmod('/respmod', 'z'.repeat(4096)));
    const r = await c.response();
    expect(r.status).toBe(500);
    expect(logger.lines.some((l) => l.level === 'error')).toBe(true);
  });
});

describe('block and modify', () => {
  const page = Buffer.from('<h1>blocked</h1>');
  const blocker = async (): Promise<IcapVerdict> => ({
    kind: 'block', response: { startLine: 'HTTP/1.1 403 Forbidden', headers: [['Content-Type', 'text/html'], ['Content-Length', '999']] }, body: page,
  });

  test('REQMOD block is request satisfaction with res-hdr/res-body and a fixed Content-Length', async () => {
    const s = await srv({ services: [service('/reqmod', 'REQMOD', blocker)] });
    const c = await cli(s.port);
    c.write(reqmod('/reqmod', 'secret=1'));
    const r = await c.response();
    expect(r.status).toBe(200);
    const enc = r.headers.get('encapsulated')!;
    expect(enc).toMatch(/^res-hdr=0, res-body=(\d+)$/);
    const head = r.encap.subarray(0, Number(/res-body=(\d+)/.exec(enc)![1])).toString();
    expect(head).toBe(`HTTP/1.1 403 Forbidden\r\nContent-Type: text/html\r\nContent-Length: ${page.length}\r\n\r\n`);
    expect(r.body.equals(page)).toBe(true);
    c.write(reqmod('/reqmod', 'again')); // connection still in sync
    expect((await c.response()).status).toBe(200);
  });

  test('RESPMOD modify with a Buffer body fixes Content-Length', async () => {
    const s = await srv({ services: [service('/respmod', 'RESPMOD', async () => ({ kind: 'modify', body: Buffer.from('redacted!') }))] });
    const c = await cli(s.port);
    c.write(respmod('/respmod', 'the secret text'));
    const r = await c.response();
    expect(r.status).toBe(200);
    expect(r.encap.toString()).toContain('Content-Length: 9\r\n');
    expect(r.body.toString()).toBe('redacted!');
  });

  test('modify with a stream body drops Content-Length and streams the body', async () => {
    const s = await srv({ services: [service('/respmod', 'RESPMOD', async () => ({ kind: 'modify', response: { startLine: 'HTTP/1.1 200 OK', headers: [['Content-Length', '5'], ['X-A', '1']] }, body: Readable.from([Buffer.from('ab'), Buffer.from(''), Buffer.from('cd')]) }))] });
    const c = await cli(s.port);
    c.write(respmod('/respmod', 'xyz'));
    const r = await c.response();
    expect(r.status).toBe(200);
    expect(r.encap.toString()).toMatch(/^HTTP\/1\.1 200 OK\r\nX-A: 1\r\n\r\n/);
    expect(r.body.toString()).toBe('abcd');
  });

  test('REQMOD modify of the request head keeps the original body', async () => {
    const s = await srv({ services: [service('/reqmod', 'REQMOD', async (r: IcapRequest) => ({ kind: 'modify', request: { startLine: r.httpRequest!.startLine, headers: [...r.httpRequest!.headers, ['X-Imgate', 'seen']] } }))] });
    const c = await cli(s.port);
    c.write(reqmod('/reqmod', 'payload'));
    const r = await c.response();
    expect(r.headers.get('encapsulated')).toMatch(/^req-hdr=0, req-body=\d+$/);
    expect(r.encap.toString()).toContain('X-Imgate: seen\r\n');
    expect(r.body.toString()).toBe('payload');
  });

  test('handler rejection becomes 500 with Connection: close', async () => {
    const logger = memLogger();
    const s = await srv({ logger, services: [service('/reqmod', 'REQMOD', async () => { throw new Error('boom'); })] });
    const c = await cli(s.port);
    c.write(reqmod('/reqmod', 'x'));
    const r = await c.response();
    expect(r.status).toBe(500);
    expect(r.headers.get('connection')).toBe('close');
    expect(await c.waitClosed()).toBe(true);
    expect(logger.lines.find((l) => l.level === 'error')!.obj).toMatchObject({ err: 'boom' });
  });
});

describe('error statuses', () => {
  const cases: Array<[string, string, number, boolean]> = [
    ['unknown service', 'OPTIONS icap://127.0.0.1/nope ICAP/1.0\r\nHost: h\r\n\r\n', 404, false],
    ['wrong method for service', reqmod('/respmod', 'x'), 405, true],
    ['OPTIONS-less 405 without body keeps connection', reqmod('/respmod', null).replace(/req-hdr=0, null-body=\d+/, 'null-body=0').replace(/\r\n\r\nPOST[\s\S]*$/, '\r\n\r\n'), 405, false],
    ['unknown method', 'PATCH icap://127.0.0.1/reqmod ICAP/1.0\r\nHost: h\r\n\r\n', 501, true],
    ['wrong version', 'OPTIONS icap://127.0.0.1/reqmod ICAP/1.1\r\nHost: h\r\n\r\n', 505, true],
    ['malformed', 'hello there\r\n\r\n', 400, true],
  ];
  test.each(cases)('%s', async (_n, input, status, closes) => {
    const s = await srv();
    const c = await cli(s.port);
    c.write(input);
    const r = await c.response();
    expect(r.status).toBe(status);
    expect(r.headers.get('istag')).toBe('"tag-1"');
    if (closes) {
      expect(r.headers.get('connection')).toBe('close');
      expect(await c.waitClosed()).toBe(true);
    } else {
      c.write('OPTIONS icap://127.0.0.1/reqmod ICAP/1.0\r\nHost: h\r\n\r\n');
      expect((await c.response()).status).toBe(200);
    }
  });

  test('503 over Max-Connections, and the others keep working', async () => {
    const s = await srv({ maxConnections: 2 });
    const a = await cli(s.port);
    const b = await cli(s.port);
    const c = await cli(s.port);
    c.write('OPTIONS icap://127.0.0.1/reqmod ICAP/1.0\r\nHost: h\r\n\r\n');
    const r = await c.response();
    expect(r.status).toBe(503);
    expect(r.headers.get('connection')).toBe('close');
    for (const x of [a, b]) {
      x.write(reqmod('/reqmod', 'x', 'Allow: 204\r\n'));
      expect((await x.response()).status).toBe(204);
    }
  });

  test('limits: oversized ICAP head gets 400 and close', async () => {
    const s = await srv({ limits: { maxIcapHeaderBytes: 512, maxHttpHeaderBytes: 1024, maxLineBytes: 256, maxHeaderCount: 10 } });
    const c = await cli(s.port);
    c.write(`OPTIONS icap://127.0.0.1/reqmod ICAP/1.0\r\n${'X-A: b\r\n'.repeat(200)}\r\n`);
    expect((await c.response()).status).toBe(400);
    expect(await c.waitClosed()).toBe(true);
  });
});

describe('timeouts', () => {
  test('idle keep-alive connection is closed quietly', async () => {
    const s = await srv({ idleTimeoutMs: 150 });
    const c = await cli(s.port);
    expect(await c.waitClosed(2000)).toBe(true);
    expect(c.pending().length).toBe(0);
  });

  test('slow handler gets 408 after transactionTimeoutMs', async () => {
    const s = await srv({ transactionTimeoutMs: 150, services: [service('/reqmod', 'REQMOD', () => new Promise<IcapVerdict>((r) => setTimeout(() => r({ kind: 'allow' }), 1000)))] });
    const c = await cli(s.port);
    c.write(reqmod('/reqmod', 'x'));
    const r = await c.response();
    expect(r.status).toBe(408);
    expect(await c.waitClosed()).toBe(true);
  });

  test('a half-sent request head times out with 408', async () => {
    const s = await srv({ idleTimeoutMs: 150, transactionTimeoutMs: 150 });
    const c = await cli(s.port);
    c.write('OPTIONS icap://127.0.0.1/reqmod ICAP/1.0\r\nHo');
    expect((await c.response()).status).toBe(408);
  });
});

describe('connections and pipelining', () => {
  test('two requests in one write, and one request split byte by byte', async () => {
    const s = await srv();
    const c = await cli(s.port);
    c.write(reqmod('/reqmod', 'one') + respmod('/respmod', 'two'));
    expect((await c.response()).body.toString()).toBe('one');
    expect((await c.response()).body.toString()).toBe('two');
    const msg = respmod('/respmod', 'three');
    for (const ch of msg) { c.write(ch); await new Promise((r) => setImmediate(r)); }
    expect((await c.response()).body.toString()).toBe('three');
  });

  test('client info: X-Client-Username, base64 X-Authenticated-User, groups, IP', async () => {
    const got: IcapRequest[] = [];
    const s = await srv({ services: [service('/reqmod', 'REQMOD', async (r) => { got.push(r); return { kind: 'allow' }; })] });
    const c = await cli(s.port);
    const b64 = Buffer.from('WinNT://CORP/bob').toString('base64');
    c.write(reqmod('/reqmod', null, `X-Authenticated-User: ${b64}\r\nX-Authenticated-Groups: ${Buffer.from('staff,admins').toString('base64')}, plain\r\nX-Client-IP: 10.0.0.7\r\n`));
    await c.response();
    c.write(reqmod('/reqmod', null, 'X-Client-Username: alice\r\nX-Authenticated-User: carol\r\n'));
    await c.response();
    expect(got[0]!.client).toEqual({ ip: '10.0.0.7', user: 'WinNT://CORP/bob', groups: ['staff', 'admins', 'plain'] });
    expect(got[1]!.client).toEqual({ user: 'alice', groups: [] });
    expect(got[0]!.id).toMatch(/^c\d+-1$/);
    expect(got[1]!.id).toMatch(/^c\d+-2$/);
  });

  test('close(drainMs) lets the in-flight transaction finish with Connection: close', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const s = await start({ services: [service('/reqmod', 'REQMOD', async () => { await gate; return { kind: 'allow' }; })] });
    const c = await cli(s.port);
    const idle = await cli(s.port);
    c.write(reqmod('/reqmod', 'x'));
    await new Promise((r) => setTimeout(r, 50));
    const closing = s.server.close(2000);
    expect(await idle.waitClosed()).toBe(true);
    release();
    const r = await c.response();
    expect(r.status).toBe(200);
    expect(r.headers.get('connection')).toBe('close');
    await closing;
    expect(s.server.connections()).toBe(0);
  });

  test('observer sees connections and transactions', async () => {
    const tx: Array<{ method: string; status: number }> = [];
    let open = 0;
    const s = await srv({ observer: { onTransaction: (t) => tx.push(t), onConnection: (d) => { open += d; } } });
    const c = await cli(s.port);
    c.write('OPTIONS icap://127.0.0.1/reqmod ICAP/1.0\r\nHost: h\r\n\r\n');
    await c.response();
    c.write(reqmod('/reqmod', 'x', 'Allow: 204\r\n'));
    await c.response();
    expect(tx.map((t) => [t.method, t.status])).toEqual([['OPTIONS', 200], ['REQMOD', 204]]);
    expect(open).toBe(1);
    c.end();
    await new Promise((r) => setTimeout(r, 100));
    expect(open).toBe(0);
  });
});

void allowAll;
