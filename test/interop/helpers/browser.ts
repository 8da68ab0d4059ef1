// Debian's headless Chromium driven by puppeteer-core (puppeteer's own
// browser download cannot work offline). Flags keep it off the network:
// no background services, no QUIC, no component updates, a fresh profile.
import fs from 'node:fs';
import path from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { makeTempDir, removeTempDir } from './tmpdir';

export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = path.resolve(__dirname, '..', '..', 'artifacts');

export class HeadlessChromium {
  private constructor(
    readonly browser: Browser,
    private readonly profile: string,
  ) {}

  static async launch(): Promise<HeadlessChromium> {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: apt-get install chromium`);
    const profile = makeTempDir('chromium');
    try {
      const browser = await puppeteer.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--headless=new',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--disable-default-apps',
          '--disable-extensions',
          '--no-proxy-server',
          '--disable-dev-shm-usage',
          `--user-data-dir=${profile}`,
        ],
        defaultViewport: { width: 1400, height: 1000 },
        timeout: 30000,
      });
      return new HeadlessChromium(browser, profile);
    } catch (err) {
      removeTempDir(profile);
      throw err;
    }
  }

  async close(): Promise<void> {
    const proc = this.browser.process();
    await this.browser.close().catch(() => undefined);
    if (proc && proc.exitCode === null && proc.pid !== undefined) {
      try {
        process.kill(proc.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    removeTempDir(this.profile);
  }
}

/** test/artifacts/<name>/, created on demand (the lead gitignores test/artifacts/). */
export function artifactDir(name: string): string {
  const dir = path.join(ARTIFACTS, name);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}
