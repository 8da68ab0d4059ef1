// c-icap-client (the reference ICAP client from the c-icap project) against
// imgate, with c-icap's own echo service as the yardstick: OPTIONS must carry
// what c-icap's does, and allowed traffic must come back unchanged whether or
// not a preview and 204 are in play.
import fs from 'node:fs';
import path from 'node:path';
import { Gateway } from './helpers/gateway';
import { CIcap } from './helpers/cicap';
import { cicapClient } from './helpers/cicap-client';
import { bigBody } from './helpers/origin';

const POLICY = `default: allow
rules:
  - id: block-forbidden
    when: { host: ["blocked.example"], url_matches: ["/forbidden"] }
    then: block
  - id: alice-no-private
    when: { user: [alice], url_matches: ["/private"] }
    then: block
`;

let gw: Gateway;
let cicap: CIcap;
let small: string;
let large: string;

beforeAll(async () => {
  gw = await Gateway.start({ name: 'cicap-client', policy: POLICY });
  cicap = await CIcap.start();
  small = path.join(gw.dir, 'small.txt');
  large = path.join(gw.dir, 'large.bin');
  fs.writeFileSync(small, 'hello clean body\n'); // ends inside any preview (ieof)
  fs.writeFileSync(large, bigBody(3000)); // larger than the 1024/100-byte previews
});

afterAll(async () => {
  await Promise.allSettled([cicap?.cleanup(), gw?.cleanup()]);
});

/** Header names c-icap-client prints under "ICAP HEADERS:" for OPTIONS. */
function optionsHeaderNames(stderr: string): Set<string> {
  const names = new Set<string>();
  for (const m of stderr.matchAll(/^\s+([A-Za-z-]+):/gm)) names.add(m[1]!.toLowerCase());
  return names;
}

test.each([
  ['reqmod', 'REQMOD'],
  ['respmod', 'RESPMOD'],
])('OPTIONS /%s lists Methods, ISTag, Preview and Transfer-Preview', async (svc, method) => {
  const r = await cicapClient(gw.ports.icap, svc, [], gw.dir);
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(/ICAP\/1\.0 200/);
  expect(r.stderr).toMatch(new RegExp(`Methods: ${method}\\b`));
  expect(r.stderr).toMatch(/ISTag: "[^"]{1,30}"/);
  expect(r.stderr).toMatch(/Preview: 1024/);
  expect(r.stderr).toMatch(/Transfer-Preview: \*/);
});

test('OPTIONS carries every header c-icap echo sends that RFC 3507 defines', async () => {
  const ref = await cicapClient(cicap.port, 'echo', [], gw.dir);
  const ours = await cicapClient(gw.ports.icap, 'reqmod', [], gw.dir);
  const refNames = optionsHeaderNames(ref.stderr);
  const ourNames = optionsHeaderNames(ours.stderr);
  for (const h of ['methods', 'istag', 'preview', 'transfer-preview', 'options-ttl', 'allow', 'encapsulated']) {
    expect(refNames.has(h)).toBe(true); // the yardstick itself
    expect(ourNames.has(h)).toBe(true);
  }
});

// [label, extra args]. -w N: preview size; -nopreview; -no204: no "Allow: 204".
const MODES: Array<[string, string[]]> = [
  ['default preview', []],
  ['preview 100', ['-w', '100']],
  ['preview 100, no 204', ['-w', '100', '-no204']],
  ['no preview', ['-nopreview']],
  ['no preview, no 204', ['-nopreview', '-no204']],
];

describe.each([
  ['RESPMOD', 'respmod', ['-resp', 'http://127.0.0.1/file']],
  ['REQMOD', 'reqmod', ['-req', 'http://127.0.0.1/upload', '-method', 'POST']],
])('%s of an allowed message', (_m, svc, target) => {
  test.each(MODES)('%s: 204 or a byte-identical echo', async (_label, mode) => {
    for (const file of [small, large]) {
      const input = fs.readFileSync(file);
      const r = await cicapClient(gw.ports.icap, svc, ['-f', file, ...target, ...mode], gw.dir);
      expect(r.code).toBe(0);
      const no204 = mode.includes('-no204');
      const noPreview = mode.includes('-nopreview');
      if (no204 && noPreview) {
        // RFC 3507 §4.6: without Allow: 204 and outside a preview, only an echo is legal.
        expect(r.icapStatus).toBe(200);
      } else {
        expect([200, 204]).toContain(r.icapStatus);
      }
      if (r.icapStatus === 200) {
        expect(r.output).not.toBeNull();
        expect(r.output!.equals(input)).toBe(true);
      } else {
        expect(r.output).toBeNull(); // 204: "unchanged", nothing to write
      }
    }
  });
});

test('the same echo through c-icap (reference) and imgate gives identical bytes', async () => {
  const args = ['-f', large, '-resp', 'http://127.0.0.1/file', '-nopreview', '-no204'];
  const ref = await cicapClient(cicap.port, 'echo', args, gw.dir);
  const ours = await cicapClient(gw.ports.icap, 'respmod', args, gw.dir);
  expect(ref.output?.equals(fs.readFileSync(large))).toBe(true);
  expect(ours.output?.equals(ref.output!)).toBe(true);
});

test('REQMOD for a blocked URL returns the imgate block page naming the rule', async () => {
  const r = await cicapClient(gw.ports.icap, 'reqmod', ['-req', 'http://blocked.example/forbidden/x', '-nopreview', '-no204'], gw.dir);
  expect(r.code).toBe(0);
  expect(r.icapStatus).toBe(200);
  expect(r.stderr).toMatch(/HTTP\/1\.[01] 403/);
  const page = r.output?.toString() ?? '';
  expect(page).toMatch(/imgate/i);
  expect(page).toContain('block-forbidden');
});

test('X-Client-Username from the ICAP client drives user rules', async () => {
  const args = ['-req', 'http://127.0.0.1/private/doc', '-nopreview', '-no204'];
  const alice = await cicapClient(gw.ports.icap, 'reqmod', [...args, '-x', 'X-Client-Username: alice'], gw.dir);
  expect(alice.stderr).toMatch(/HTTP\/1\.[01] 403/);
  expect(alice.output?.toString()).toContain('alice-no-private');
  const bob = await cicapClient(gw.ports.icap, 'reqmod', [...args, '-x', 'X-Client-Username: bob'], gw.dir);
  expect(bob.stderr).not.toMatch(/HTTP\/1\.[01] 403/);
  expect([200, 204]).toContain(bob.icapStatus);
});

test('imgate stops on SIGTERM with exit code 0', async () => {
  expect(await gw.stop()).toEqual({ code: 0, signal: null });
});
