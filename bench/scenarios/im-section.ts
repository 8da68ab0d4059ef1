// The IM-facing sections (BENCH_ONLY im, webim, mem): start their peers,
// run them against the main imgate (mem uses a fresh one), and collect the
// results. A failing section is recorded as an error, not a crash, so the
// rest of the bench still reports.
import { freePort } from '../lib/ports';
import { progress } from '../lib/log';
import type { BenchConfig } from '../lib/config';
import type { Imgate } from '../peers/imgate';
import { ngircdVersion, startNgircd } from '../peers/ngircd';
import { runIrc, type ImRow } from './im';
import { runWebim, type WebimRow } from './webim';
import { runMemory, type MemResult } from './memory';
import type { BenchResults } from '../report/results';

export interface ImResults {
  peers: Record<string, string>;
  im: ImRow[];
  webim: WebimRow[];
  mem: MemResult | null;
  errors: string[];
}

async function guarded(what: string, errors: string[], fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    const msg = `${what}: ${(e as Error).message.slice(0, 400)}`;
    progress(`FAILED ${msg}`);
    errors.push(msg);
  }
}

export async function runImSection(cfg: BenchConfig, tmp: string, g: Imgate, cicapPort: number, pipePort: number, results: BenchResults): Promise<void> {
  const sel = ['im', 'webim', 'mem'].filter((k) => cfg.only.has(k));
  if (!sel.length) return;
  const out: ImResults = { peers: {}, im: [], webim: [], mem: null, errors: [] };
  results.im = out;
  if (cfg.only.has('im')) {
    await guarded('im irc', out.errors, async () => {
      const port = await freePort();
      out.peers.ngircd = ngircdVersion();
      await startNgircd(tmp, port);
      progress(`ngircd :${port}`);
      out.im.push(...(await runIrc({ secs: cfg.imSecs, rounds: cfg.imRounds, bulkLines: cfg.imBulkLines }, port, g.ports.socks5, pipePort)));
    });
  }
  if (cfg.only.has('webim') && g.ports.icap) {
    await guarded('webim', out.errors, async () => {
      out.webim = await runWebim(cfg, cicapPort, g.ports.icap, g.ports.admin);
    });
  }
  if (cfg.only.has('mem')) {
    await guarded('mem', out.errors, async () => {
      out.mem = await runMemory(cfg, tmp);
    });
  }
}
