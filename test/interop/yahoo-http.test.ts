// Yahoo! Messenger's HTTP mode (POST /notify/) through the real gateway, both
// doors: imgate's HTTP proxy door (absolute-URI forwarding) and real Squid +
// imgate ICAP (REQMOD/RESPMOD). There is no Yahoo server or capture: the
// server and the client below are scripted from what the sources say about
// the wire format (src/protocols/ymsg/http.ts names them): request bodies are
// raw YMSG packets, response bodies a 4-byte prefix (packet count, LE) and
// the server's YMSG packets; the server assigns the session id in its answer
// to the login.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Gateway, type LogLine } from './helpers/gateway';
import { imPolicy } from './helpers/im-policy';
import { Squid } from './helpers/squid';
import { hear, login, notifyBody, say, ymsg, AUTH, MESSAGE } from '../unit/protocols/http/yahoo-ymsg';

const POLICY = imPolicy(`  - id: no-mallory
    when: { kind: login, account: "mallory*" }
    then: block
`);
const SID = 0x0badcafe;

/** The scripted Yahoo HTTP server: answers logins with a session id, queues inbound messages, keeps every body it got. */
class YahooServer {
  readonly got: Buffer[] = [];
  readonly outbox: Buffer[] = [];
  private server!: http.Server;
  port = 0;

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () => {
        const body = Buffer.concat(parts);
        this.got.push(body);
        const packets: Buffer[] = [];
        if (body.length >= 20 && body.readUInt16BE(10) === AUTH) packets.push(ymsg(AUTH, SID, [[1, body.subarray(20).toString('latin1').split('\xc0\x80')[1] ?? '']]));
        packets.push(...this.outbox.splice(0));
        const out = notifyBody(...packets);
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': out.length });
        res.end(out);
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** One POST /notify/ through an HTTP proxy (absolute URI), like the client's HTTP mode. */
function post(proxyPort: number, serverPort: number, body: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: proxyPort,
        method: 'POST',
        path: `http://127.0.0.1:${serverPort}/notify/`,
        agent: false,
        headers: { Host: `127.0.0.1:${serverPort}`, Accept: 'application/octet-stream', 'Content-Type': 'application/octet-stream', 'Content-Length': body.length },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
      },
    );
    req.setTimeout(15000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

let gw: Gateway;
let squid: Squid;

beforeAll(async () => {
  gw = await Gateway.start({ name: 'yahoo-http', policy: POLICY });
  squid = await Squid.start({ icapPort: gw.ports.icap, name: 'squid-yahoo' });
}, 60000);

afterAll(async () => {
  await Promise.allSettled([squid?.cleanup()]);
  await gw?.cleanup();
});

const events = (door: string): LogLine[] => gw.logs().filter((l) => l.msg === 'im event' && l.protocol === 'ymsg' && l.door === door);

function conversation(door: 'http' | 'icap', proxyPort: () => number, account: string): void {
  let yahoo: YahooServer;
  beforeAll(async () => {
    yahoo = new YahooServer();
    await yahoo.start();
  });
  afterAll(() => yahoo.close());

  test('login and an allowed message reach the server byte-identical; the account is recorded', async () => {
    const hello = login(account);
    const r1 = await post(proxyPort(), yahoo.port, hello);
    expect(r1.status).toBe(200);
    expect(yahoo.got.at(-1)?.equals(hello)).toBe(true);
    expect(r1.body.readUInt32BE(4 + 16)).toBe(SID);
    const ok = say(SID, account, 'bob_y', 'hello bob over http');
    const r2 = await post(proxyPort(), yahoo.port, ok);
    expect(r2.status).toBe(200);
    expect(yahoo.got.at(-1)?.equals(ok)).toBe(true);
    expect(await gw.waitLog((l) => l.msg === 'im event' && l.door === door && l.text === 'hello bob over http', 10000)).toMatchObject({ protocol: 'ymsg', app: 'yahoo-http', kind: 'message', account, peer: 'bob_y', action: 'allow' });
    expect(events(door).find((l) => l.kind === 'login')).toMatchObject({ app: 'yahoo-http', account, action: 'allow' });
  }, 30000);

  test('a banned message never reaches the server, the client hears "not sent", the event says blocked', async () => {
    const ok = say(SID, account, 'bob_y', 'lunch at noon');
    const r = await post(proxyPort(), yahoo.port, Buffer.concat([ok, say(SID, account, 'bob_y', 'the project falcon plans')]));
    expect(r.status).toBe(200);
    expect(yahoo.got.at(-1)?.equals(ok)).toBe(true);
    expect(yahoo.got.some((b) => b.includes('falcon'))).toBe(false);
    // The notice (MESSAGE, status 2) rides in this exchange's response.
    expect(r.body.readUInt16LE(0)).toBe(1);
    expect(r.body.readUInt16BE(4 + 10)).toBe(MESSAGE);
    expect(r.body.readUInt32BE(4 + 12)).toBe(2);
    expect(await gw.waitLog((l) => l.msg === 'im event' && l.door === door && l.text === 'the project falcon plans', 10000)).toMatchObject({ protocol: 'ymsg', app: 'yahoo-http', account, action: 'block', rule: 'no-falcon' });
  }, 30000);

  test('an inbound banned message never reaches the client; the allowed one arrives byte-identical', async () => {
    const fine = hear(SID, 'bob_y', account, 'see you at noon');
    yahoo.outbox.push(hear(SID, 'bob_y', account, 'project falcon leaked'), fine);
    const r = await post(proxyPort(), yahoo.port, say(SID, account, 'bob_y', 'anything new?'));
    expect(r.status).toBe(200);
    expect(r.body.includes('falcon')).toBe(false);
    expect(r.body.readUInt16LE(0)).toBe(1);
    expect(r.body.subarray(4).equals(fine)).toBe(true);
  }, 30000);
}

describe('Yahoo HTTP through the HTTP proxy door (absolute-URI forwarding)', () => {
  conversation('http', () => gw.ports.http, 'alice_y');
});

describe('Yahoo HTTP through real Squid + imgate ICAP', () => {
  conversation('icap', () => squid.port, 'carol_y');

  test('Squid logged no ICAP errors', () => {
    expect(squid.icapLog()).not.toMatch(/ICAP_ERR|\/500 /);
  });
});
