// Web IM through ICAP into the record store: the real ICAP services and web
// inspector, a Discord message with an attachment. The message (with the
// verdict that masked it) and the file (name, size, sha256, archived bytes)
// are in the store, as `imgate search` / `imgate files` would show them.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IcapService } from '../../../icap/types';
import { Metrics } from '../../../src/admin/metrics';
import { createAudit, type Audit } from '../../../src/audit';
import { parseConfig } from '../../../src/config/load';
import { createIcapServices } from '../../../src/icap-services';
import { parsePolicy, PolicyStore } from '../../../src/policy';
import { WebImInspector } from '../../../src/web';
import { catalog, reqmodRequest } from '../web/helpers';
import { silent, tempDir } from './helpers';

const POLICY = {
  default: 'allow',
  rules: [
    { id: 'mask-cards', when: { kind: 'message', text_matches: ['\\b\\d{4} \\d{4} \\d{4} \\d{4}\\b'] }, then: 'redact' },
    { id: 'no-exe', when: { kind: 'file', file_name: '*.exe' }, then: 'block' },
  ],
};
const CARD = '4111 1111 1111 1111';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('web IM events and uploaded files in the record store', () => {
  let t: ReturnType<typeof tempDir>;
  let audit: Audit;
  let reqmod: IcapService;
  beforeEach(async () => {
    t = tempDir();
    const config = parseConfig({ data_dir: join(t.dir, 'var'), audit: { flush_interval_ms: 60000 } }, null);
    const metrics = new Metrics({ defaultMetrics: false });
    audit = await createAudit(config, { logger: silent, metrics: { written: () => undefined, dropped: () => undefined, depth: () => undefined } });
    const policy = new PolicyStore(parsePolicy(POLICY, null));
    const inspector = new WebImInspector({
      policy, metrics, logger: silent, catalog: () => catalog, replayBufferBytes: 2.5 * 1024 * 1024,
      audit: audit.sink, archiveFile: (b, m) => audit.archive.putBuffer(b, m),
    });
    [reqmod] = createIcapServices({ reqmod: '/reqmod', respmod: '/respmod' }, { policy, metrics, logger: silent, webim: { catalog: () => catalog, inspector } }) as [IcapService, IcapService];
  });
  afterEach(async () => {
    await audit.close();
    t.done();
  });

  const post = (body: string, B: string) =>
    reqmod.handle(reqmodRequest({ url: 'https://discord.com/api/v10/channels/42/messages', headers: [['Content-Type', `multipart/form-data; boundary=${B}`]], body }));

  test('a redacted message and an allowed attachment: full text, verdict, file archived by sha256', async () => {
    const B = 'xYzZY';
    const body =
      `--${B}\r\nContent-Disposition: form-data; name="payload_json"\r\nContent-Type: application/json\r\n\r\n${JSON.stringify({ content: `card ${CARD}` })}\r\n` +
      `--${B}\r\nContent-Disposition: form-data; name="files[0]"; filename="notes.txt"\r\nContent-Type: text/plain\r\n\r\nplain notes\r\n--${B}--\r\n`;
    expect((await post(body, B)).kind).toBe('modify');
    await audit.archive.settle();
    await audit.queue.flush();
    const [msg] = await audit.store.search({ text: 'card' });
    expect(msg).toMatchObject({ door: 'icap', user: 'alice', client_ip: '10.0.0.7', app: 'discord', peer: '42', kind: 'message', text: `card ${CARD}`, action: 'redact', rule: 'mask-cards', url: 'https://discord.com/api/v10/channels/42/messages' });
    // (conf/webim.yaml's discord `files: [multipart:files*, multipart:file*]`
    // reports the part "files[0]" twice today, and file events carry no peer:
    // src/web matters, not the store's. Every row must be right.)
    const files = await audit.store.files({});
    expect(files.length).toBeGreaterThanOrEqual(1);
    for (const f of files) {
      expect(f).toMatchObject({ name: 'notes.txt', size: 11, sha256: sha('plain notes'), action: 'allow', app: 'discord', user: 'alice', stored_path: join('files', sha('plain notes').slice(0, 2), sha('plain notes')) });
    }
    expect(readFileSync(join(t.dir, 'var', files[0]?.stored_path as string), 'utf8')).toBe('plain notes');
  });

  test('a blocked .exe is on record with its verdict and sha256', async () => {
    const B = 'b0';
    const v = await post(`--${B}\r\nContent-Disposition: form-data; name="files[0]"; filename="setup.exe"\r\n\r\nMZ....\r\n--${B}--\r\n`, B);
    expect(v.kind).toBe('block');
    await audit.queue.flush();
    expect(await audit.store.files({ name: '*.exe' })).toEqual([expect.objectContaining({ name: 'setup.exe', size: 6, sha256: sha('MZ....'), action: 'block', rule: 'no-exe' })]);
  });
});
