// The AV service inside the gateway: the scanner's signature version feeds
// the ISTag, its breaker/reachability is a /readyz check, reload rebuilds it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../src/config';
import { startGateway, type Gateway } from '../../../src/gateway';
import { createLogger } from '../../../src/log';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgate-av-gw-'));
const configFile = path.join(dir, 'imgate.yaml');
const versionFile = path.join(dir, 'sigver');
const config = (scanner: string): string => `data_dir: ${dir}/var
policy_file: policy.yaml
icap: { listen: { port: 0 } }
socks5: { enabled: false }
http_proxy: { enabled: false }
admin: { enabled: false }
av:
  scanners:
${scanner}
`;
const cmdScanner = `    - name: cmd
      type: command
      command: ${process.execPath}
      args: ["-e", "process.exit(require('fs').readFileSync(process.argv[1],'utf8').includes('BAD')?1:0)", "{}"]
      version_command: ["${process.execPath}", "-e", "process.stdout.write(require('fs').readFileSync('${versionFile}','utf8'))"]`;

let gw: Gateway;
afterAll(async () => {
  await gw?.drain(1000);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('signature version -> ISTag; readiness check; reload rebuilds the service', async () => {
  fs.writeFileSync(path.join(dir, 'policy.yaml'), 'default: allow\nrules: []\n');
  fs.writeFileSync(versionFile, 'sigs-1');
  fs.writeFileSync(configFile, config(cmdScanner));
  gw = await startGateway(loadConfig(configFile), { logger: createLogger('silent'), defaultMetrics: false });
  const before = gw.policy.istag;
  const waitFor = async (cond: () => boolean): Promise<void> => {
    for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setTimeout(r, 50));
  };
  await waitFor(() => gw.av().signatureVersions()[0] === 'cmd=sigs-1');
  expect(gw.av().signatureVersions()).toEqual(['cmd=sigs-1']);
  expect(gw.policy.istag).not.toBe(before);
  expect(gw.readiness.report().checks['av:cmd']).toBe(true);
  const r = await gw.av().scan(Buffer.from('BAD file'), { name: 'f' });
  expect(r.outcome).toEqual({ status: 'infected', signature: 'unknown' });

  const istag1 = gw.policy.istag;
  fs.writeFileSync(versionFile, 'sigs-2');
  fs.writeFileSync(configFile, config(cmdScanner.replace('name: cmd', 'name: cmd2')));
  const old = gw.av();
  await gw.reload();
  expect(gw.av()).not.toBe(old);
  await waitFor(() => gw.av().signatureVersions()[0] === 'cmd2=sigs-2');
  expect(gw.av().signatureVersions()).toEqual(['cmd2=sigs-2']);
  expect(gw.policy.istag).not.toBe(istag1);
  expect(gw.readiness.report().checks).toMatchObject({ 'av:cmd': true, 'av:cmd2': true });
});
