// TLS ClientHello reading with real ClientHellos made by node's tls module,
// split at every offset, plus garbage; app classification from conf/apps.yaml.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import fc from 'fast-check';
import { ConfigError } from '../../../src/config';
import {
  AppCatalog,
  ClientHelloReader,
  embeddedAppsPath,
  loadAppsFile,
  parseApps,
  probeTls,
  resolveAppsPath,
  setTlsApps,
  tlsModule,
} from '../../../src/protocols/tls';
import { closeAll, collect, listen, rig, until } from './helpers';

afterAll(closeAll);

/** The raw first flight of a node TLS client (the ClientHello records), captured by a plain TCP server. */
async function captureHello(opts: { servername?: string; ALPNProtocols?: string[] }): Promise<Buffer> {
  let got!: (b: Buffer) => void;
  const bytes = new Promise<Buffer>((r) => (got = r));
  const port = await listen((s) => {
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      const all = Buffer.concat(chunks);
      // Complete when the records announced so far are all there.
      let p = 0;
      while (p + 5 <= all.length) p += 5 + all.readUInt16BE(p + 3);
      if (p === all.length) {
        got(all);
        s.destroy();
      }
    });
  });
  const c = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...opts });
  c.on('error', () => {});
  const b = await bytes;
  c.destroy();
  return b;
}

function read(chunks: Buffer[]) {
  const r = new ClientHelloReader(16384);
  let status = 'more';
  for (const c of chunks) {
    status = r.push(c);
    if (status === 'done') break;
  }
  return { status, info: r.info, error: r.error };
}

let whatsapp: Buffer;
let noSni: Buffer;
beforeAll(async () => {
  whatsapp = await captureHello({ servername: 'web.whatsapp.com', ALPNProtocols: ['h2', 'http/1.1'] });
  noSni = await captureHello({});
});

describe('ClientHello reader', () => {
  test('a real ClientHello gives SNI and ALPN', () => {
    expect(probeTls('c2s', whatsapp)).toBe('match');
    expect(read([whatsapp])).toEqual({ status: 'done', info: { sni: 'web.whatsapp.com', alpn: ['h2', 'http/1.1'] }, error: null });
  });

  test('split in two at every offset, and byte by byte', () => {
    for (let i = 1; i < whatsapp.length; i++) {
      const r = read([whatsapp.subarray(0, i), whatsapp.subarray(i)]);
      expect(r.info?.sni).toBe('web.whatsapp.com');
      // The probe says 'more' until it can tell, then 'match'; never 'no'.
      expect(probeTls('c2s', whatsapp.subarray(0, i))).not.toBe('no');
    }
    const bytes = [...whatsapp].map((b) => Buffer.from([b]));
    expect(read(bytes).info).toEqual({ sni: 'web.whatsapp.com', alpn: ['h2', 'http/1.1'] });
  });

  test('a ClientHello split over several records (as some clients send it)', () => {
    const body = whatsapp.subarray(5, 5 + whatsapp.readUInt16BE(3));
    const recs: Buffer[] = [];
    for (let p = 0; p < body.length; p += 100) {
      const frag = body.subarray(p, p + 100);
      const h = Buffer.from([0x16, 0x03, 0x01, 0, 0]);
      h.writeUInt16BE(frag.length, 3);
      recs.push(h, frag);
    }
    expect(read([Buffer.concat(recs)]).info?.sni).toBe('web.whatsapp.com');
  });

  test('no SNI (client connected to an IP): done, no server name', () => {
    const r = read([noSni]);
    expect(r.status).toBe('done');
    expect(r.info?.sni).toBeUndefined();
  });

  test('garbage never throws; a declared length over the limit is refused before buffering', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.integer({ min: 1, max: 50 }), (arr, cut) => {
        const b = Buffer.from(arr);
        probeTls('c2s', b.length > 0 ? b : Buffer.from([0x16]));
        const r = new ClientHelloReader(16384);
        for (let p = 0; p < b.length; p += cut) r.push(b.subarray(p, p + cut));
        r.truncate();
        expect(r.info !== null || r.error !== null).toBe(true);
      }),
      { numRuns: 500 },
    );
    // Mutations of a real hello: every byte flipped in turn.
    for (let i = 0; i < whatsapp.length; i++) {
      const m = Buffer.from(whatsapp);
      m[i] = (m[i] as number) ^ 0xff;
      const r = new ClientHelloReader(16384);
      r.push(m);
      r.truncate();
    }
    const huge = Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x10, 0x00, 0x00]);
    const r = new ClientHelloReader(16384);
    expect(r.push(huge)).toBe('done');
    expect(r.error).toMatch(/over the 16384-byte limit/);
    expect(probeTls('c2s', Buffer.from('GET / HTTP/1.1\r\n'))).toBe('no');
    expect(probeTls('s2c', whatsapp)).toBe('no');
    expect(probeTls('c2s', Buffer.from([0x16, 0x03, 0x01, 0x00, 0x10, 0x02]))).toBe('no');
  });
});

describe('apps catalog', () => {
  const apps = loadAppsFile(embeddedAppsPath());
  test.each([
    ['web.whatsapp.com', 'whatsapp'],
    ['mmg-fna.whatsapp.net', 'whatsapp'],
    ['textsecure-service.whispersystems.org', 'signal'],
    ['cdn.signal.org', 'signal'],
    ['discord.com', 'discord'],
    ['slack.com', 'slack'],
    ['teams.microsoft.com', 'teams'],
    ['emea.ng.msg.teams.microsoft.com', 'teams'],
    ['teams.office.com', 'teams'],
    ['eu-api.asm.skype.com', 'skype'],
    ['apps.skypeassets.com', 'skype'],
    ['web.telegram.org', 'telegram'],
    ['t.me', 'telegram'],
    ['telegram.me', 'telegram'],
    ['edge-mqtt.facebook.com', 'facebook-messenger'],
    ['chat.google.com', 'google-chat'],
    ['www.google.com', undefined],
    ['login.microsoftonline.com', undefined],
    ['notwhatsapp.net', undefined],
  ])('%s -> %s', (sni, app) => {
    expect(apps.classify(sni)).toBe(app);
  });

  test('longest suffix wins; bad files are errors naming the key', () => {
    const c = new AppCatalog({ office: ['microsoft.com'], teams: ['teams.microsoft.com'] });
    expect(c.classify('a.teams.microsoft.com')).toBe('teams');
    expect(c.classify('www.microsoft.com')).toBe('office');
    expect(() => parseApps({ apps: { WhatsApp: ['x.com'] } }, 'f.yaml')).toThrow(ConfigError);
    expect(() => parseApps({ apps: { ok: ['not a domain'] } }, 'f.yaml')).toThrow(/apps\.ok\[0\]/);
    expect(parseApps({ apps: { x: ['*.Example.COM.'] } }, null).classify('a.example.com')).toBe('x');
  });

  test('apps file resolution: explicit, beside the config, else shipped', () => {
    const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'imgate-apps-'));
    const cfg = path.join(dir, 'imgate.yaml');
    expect(resolveAppsPath(cfg, undefined)).toBe(embeddedAppsPath());
    fs.writeFileSync(path.join(dir, 'apps.yaml'), 'apps: { mine: [mine.test] }\n');
    expect(resolveAppsPath(cfg, undefined)).toBe(path.join(dir, 'apps.yaml'));
    expect(resolveAppsPath(cfg, 'x/y.yaml')).toBe(path.join(dir, 'x/y.yaml'));
    expect(resolveAppsPath(null, undefined)).toBe(embeddedAppsPath());
    expect(loadAppsFile(path.join(dir, 'apps.yaml')).classify('a.mine.test')).toBe('mine');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('tls module through the inspecting relay', () => {
  const POLICY = 'default: allow\nrules:\n  - { id: no-whatsapp, when: { app: [whatsapp] }, then: block }\n';
  beforeAll(() => setTlsApps(loadAppsFile(embeddedAppsPath())));

  test('a blocked app: the tunnel closes and the server never sees a byte', async () => {
    const r = rig({ modules: [tlsModule], policy: POLICY });
    let upBytes = -1;
    const port = await listen((s) => {
      upBytes = 0;
      s.on('data', (d: Buffer) => (upBytes += d.length));
    });
    const t = await r.tunnel(port);
    const fromGw = collect(t.client);
    // Split mid-record: the decision waits for the whole hello.
    t.client.write(whatsapp.subarray(0, 50));
    setTimeout(() => t.client.write(whatsapp.subarray(50)), 20);
    await fromGw.ended;
    expect(upBytes).toBe(0);
    expect(r.events()[0]).toMatchObject({ protocol: 'tls', kind: 'connection', app: 'whatsapp', action: 'block', rule: 'no-whatsapp', detail: { sni: 'web.whatsapp.com', alpn: 'h2,http/1.1' } });
    await until(() => r.lines.some((l) => l.msg === 'tunnel closed'));
    expect(r.lines.find((l) => l.msg === 'tunnel closed')?.reason).toBe('blocked by policy: rule no-whatsapp (tls app whatsapp, sni web.whatsapp.com)');
  });

  test('an allowed hello is forwarded byte-identical, then piped', async () => {
    const r = rig({ modules: [tlsModule], policy: POLICY });
    let conn!: net.Socket;
    const port = await listen((s) => (conn = s));
    const t = await r.tunnel(port);
    await until(() => conn !== undefined);
    const atUp = collect(conn);
    t.client.write(noSni.subarray(0, 7));
    t.client.write(noSni.subarray(7));
    await until(() => atUp.data().length === noSni.length);
    expect(atUp.data().equals(noSni)).toBe(true);
    expect(r.events()[0]).toMatchObject({ protocol: 'tls', action: 'allow' });
    expect(r.events()[0]).not.toHaveProperty('app');
    expect((await t.doorSide).listenerCount('data')).toBe(1);
    t.client.destroy();
  });
});
