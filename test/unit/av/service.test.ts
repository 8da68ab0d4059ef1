// The service with real local processes and sockets: the command scanner
// (node as the external program), a minimal clamd-speaking server for the
// size-limit/EPIPE path, spooling and the breaker.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Metrics } from '../../../src/admin/metrics';
import { avSchema, createAvService, type AvServiceImpl } from '../../../src/av';
import { spool } from '../../../src/av/spool';
import { createLogger } from '../../../src/log';

const logger = createLogger('silent');
let dataDir: string;
beforeAll(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgate-av-unit-'));
});
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

// Exit 1 with a signature when the file contains BAD, 3 when it contains CRASH, else 0.
const SCRIPT = `const t=require('fs').readFileSync(process.argv[1],'utf8');
if(t.includes('CRASH')){process.stderr.write('boom');process.exit(3)}
else if(t.includes('SLOW')){setTimeout(()=>{},10000)}
else if(t.includes('BAD')){console.log(process.argv[1]+': Unit.Bad FOUND');process.exit(1)}
else process.exit(0)`;

function commandCfg(extra: Record<string, unknown> = {}) {
  return avSchema.parse({
    scanners: [{ name: 'cmd', type: 'command', command: process.execPath, args: ['-e', SCRIPT, '{}'], version_command: [process.execPath, '-e', 'console.log("v-1")'], ...extra }],
    spool_threshold_bytes: 1024,
  });
}

describe('spool', () => {
  test('memory below the threshold, a file above it; hash over the stream; over limit keeps nothing', async () => {
    const small = await spool(Readable.from([Buffer.from('abc')]), { thresholdBytes: 10, maxBytes: 100, dir: dataDir });
    expect(small.kind).toBe('ok');
    if (small.kind !== 'ok') return;
    expect(small.source.onDisk).toBe(false);
    expect(small.source.sha256).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const big = await spool(Readable.from([Buffer.alloc(8, 'a'), Buffer.alloc(8, 'b')]), { thresholdBytes: 10, maxBytes: 100, dir: dataDir });
    if (big.kind !== 'ok') throw new Error('expected ok');
    expect(big.source.onDisk).toBe(true);
    const p = await big.source.path();
    expect(fs.readFileSync(p, 'latin1')).toBe('aaaaaaaabbbbbbbb');
    await big.source.dispose();
    expect(fs.existsSync(p)).toBe(false);
    const over = await spool(Readable.from([Buffer.alloc(60), Buffer.alloc(60)]), { thresholdBytes: 10, maxBytes: 100, dir: dataDir });
    expect(over).toMatchObject({ kind: 'over_limit', size: 120 });
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });
});

describe('command scanner', () => {
  test('exit 0 clean, 1 infected with the signature, other exit error; cached by sha256 + version', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const av = createAvService(commandCfg(), { logger, metrics, dataDir }) as AvServiceImpl;
    await av.refreshVersions();
    expect(av.signatureVersions()).toEqual(['cmd=v-1']);
    expect((await av.scan(Buffer.from('fine'), {})).outcome).toEqual({ status: 'clean' });
    const bad = await av.scan(Readable.from([Buffer.alloc(3000, 'x'), Buffer.from('BAD')]), { name: 'x.bin' });
    expect(bad.outcome).toEqual({ status: 'infected', signature: 'Unit.Bad' });
    expect(bad.size).toBe(3003);
    const again = await av.scan(Readable.from([Buffer.alloc(3000, 'x'), Buffer.from('BAD')]), {});
    expect(again).toMatchObject({ cached: true, outcome: bad.outcome });
    const crash = await av.scan(Buffer.from('CRASH'), {});
    expect(crash.outcome).toMatchObject({ status: 'error', failOpen: false, reason: expect.stringContaining('exit 3') });
    // Errors are not cached.
    expect((await av.scan(Buffer.from('CRASH'), {})).cached).toBe(false);
    expect(fs.readdirSync(path.join(dataDir, 'av-spool'))).toEqual([]);
    await av.close();
  });

  test('timeout kills the program; fail-open; the breaker opens', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const av = createAvService(commandCfg({ fail: 'open', breaker: { timeout_ms: 300, volume_threshold: 2, reset_timeout_ms: 60_000 } }), { logger, metrics, dataDir });
    const t0 = Date.now();
    const r1 = await av.scan(Buffer.from('SLOW 1'), {});
    expect(r1.outcome).toMatchObject({ status: 'error', failOpen: true, reason: expect.stringContaining('Timed out') });
    expect(Date.now() - t0).toBeLessThan(3000);
    await av.scan(Buffer.from('SLOW 2'), {});
    expect(av.health()).toEqual([{ name: 'cmd', state: 'open', reachable: false, required: true }]);
    const r3 = await av.scan(Buffer.from('fine'), {});
    expect(r3.outcome).toMatchObject({ status: 'error', failOpen: true, reason: expect.stringContaining('breaker open') });
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/imgate_av_breaker_state\{scanner="cmd"\} 2/);
    expect(text).toMatch(/imgate_av_scans_total\{scanner="cmd",status="timeout"\} 2/);
    await av.close();
  });
});

describe('clamd client against a clamd-speaking server', () => {
  test('reply read after EPIPE/ECONNRESET: size limit exceeded is the over_limit verdict, not a breaker failure', async () => {
    // Like clamd over StreamMaxLength: reply and close while the client is still writing.
    const server = net.createServer((sock) => {
      let n = 0;
      sock.on('data', (d: Buffer) => {
        if (n === 0 && d.toString('latin1').startsWith('zVERSION')) {
          sock.end('ClamAV 1.4.6\0');
          return;
        }
        n += d.length;
        if (n > 100_000 && !sock.destroyed) {
          sock.end('INSTREAM size limit exceeded. ERROR\0');
          sock.destroy();
        }
      });
      sock.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    const av = createAvService(avSchema.parse({ scanners: [{ name: 'c', type: 'clamd', port, breaker: { volume_threshold: 1 } }], over_limit: 'allow' }), { logger, dataDir });
    for (let i = 0; i < 3; i++) {
      const r = await av.scan(Buffer.alloc(4 * 1024 * 1024, i), {});
      expect(r.outcome).toMatchObject({ status: 'error', failOpen: true, reason: expect.stringContaining('size limit exceeded') });
    }
    expect(av.health()[0]?.state).toBe('closed');
    await av.close();
    await new Promise<void>((r) => server.close(() => r()));
  });
});
