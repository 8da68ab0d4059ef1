// Files inside web IM bodies go through the real AV service (src/av) with an
// external-command scanner that flags a marker string: an infected upload or
// download is blocked in the app's own error shape, with the signature logged.
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { createAvService, avSchema, type AvService } from '../../../src/av';
import { blockJson, harness, imEvents, reqmodRequest, respmodRequest } from './helpers';

const MARK = 'IMGATE-AV-TEST-MARKER';
let av: AvService;
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webim-av-'));
  const script = `if grep -q ${MARK} "$1"; then echo Imgate.Test.Marker; exit 1; fi; exit 0`;
  const cfg = avSchema.parse({ scanners: [{ name: 'marker', type: 'command', command: '/bin/sh', args: ['-c', script, 'scan', '{}'] }] });
  av = createAvService(cfg, { logger: pino({ level: 'silent' }), dataDir: dir });
});

afterAll(async () => {
  await av.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const POLICY = { default: 'allow', rules: [] };

test('a Mattermost multipart upload carrying the marker is blocked; the file event names the signature', async () => {
  const h = harness(POLICY, { av });
  const B = 'av1';
  const body = `--${B}\r\nContent-Disposition: form-data; name="channel_id"\r\n\r\nch9\r\n--${B}\r\nContent-Disposition: form-data; name="files"; filename="report.doc"\r\n\r\nhello ${MARK} bye\r\n--${B}--\r\n`;
  const v = await h.reqmod.handle(reqmodRequest({ url: 'https://x.cloud.mattermost.com/api/v4/files', headers: [['Content-Type', `multipart/form-data; boundary=${B}`]], body }));
  const b = blockJson(v);
  expect(b.status).toBe('HTTP/1.1 403 Forbidden');
  expect(String(b.json.message)).toMatch(/report\.doc: Imgate\.Test\.Marker/);
  expect(imEvents(h)[0]).toMatchObject({ kind: 'file', file: { name: 'report.doc' }, action: 'block', rule: 'av:marker', detail: { scanner: 'marker', signature: 'Imgate.Test.Marker' } });
});

test('a clean Matrix media upload passes; an infected Matrix media download is replaced by M_FORBIDDEN', async () => {
  const h = harness(POLICY, { av });
  const clean = await h.reqmod.handle(reqmodRequest({ url: 'https://matrix.org/_matrix/media/v3/upload?filename=cat.png', headers: [['Content-Type', 'image/png']], body: Buffer.alloc(2048, 7) }));
  expect(clean).toEqual({ kind: 'allow' });
  const dl = await h.respmod.handle(respmodRequest({ url: 'https://matrix.org/_matrix/media/v3/download/matrix.org/abc', headers: [['Content-Type', 'application/octet-stream']], body: `xx${MARK}xx` }));
  expect(blockJson(dl).json.errcode).toBe('M_FORBIDDEN');
});
