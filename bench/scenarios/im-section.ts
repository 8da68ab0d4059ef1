// The IM-facing sections (BENCH_ONLY im, webim, mem, xmpp, record, store,
// av): start their peers,
// run them against the main imgate (mem uses a fresh one), and collect the
// results. A failing section is recorded as an error, not a crash, so the
// rest of the bench still reports.
import { freePort } from '../lib/ports';
import { progress } from '../lib/log';
import type { BenchConfig } from '../lib/config';
import { startImgate, type Imgate } from '../peers/imgate';
import { stopDaemon } from '../lib/proc';
import { ngircdVersion, startNgircd } from '../peers/ngircd';
import { runIrc, type ImRow } from './im';
import { runWebim, type WebimRow } from './webim';
import { runMemory, type MemResult } from './memory';
import type { BenchResults } from '../report/results';
import { XMPP_BENCH_USERS, runXmpp, type XmppBenchResult } from './xmpp';
import { prosodyVersion, startBenchProsody } from './xmpp-prosody';
import { runRecord, type RecordResult } from './record';
import { runStore, type StoreBenchResult } from './store';
import { runAvBench, type AvBenchResult } from './av';

export interface ImResults {
  peers: Record<string, string>;
  im: ImRow[];
  webim: WebimRow[];
  mem: MemResult | null;
  xmpp?: XmppBenchResult;
  record?: RecordResult;
  store?: StoreBenchResult;
  av?: AvBenchResult;
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
  const sel = ['im', 'webim', 'mem', 'xmpp', 'record', 'store', 'av'].filter((k) => cfg.only.has(k));
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
      // The inspection path alone: the same gateway with the store off. Its
      // log level is warn, as in the recording-cost section: with no store,
      // allowed events are logged instead of stored, which is not what is measured.
      const ns = await startImgate(cfg.repoRoot, tmp, 'imgate-webim-nostore', [], true, 0, { logLevel: 'warn', extraYaml: 'audit:\n  enabled: false\n' });
      try {
        out.webim = await runWebim(cfg, cicapPort, { icap: g.ports.icap, admin: g.ports.admin }, { icap: ns.ports.icap, admin: ns.ports.admin });
      } finally {
        await stopDaemon(ns);
      }
    });
  }
  if (cfg.only.has('mem')) {
    await guarded('mem', out.errors, async () => {
      out.mem = await runMemory(cfg, tmp);
    });
  }
  if (cfg.only.has('xmpp')) {
    await guarded('xmpp', out.errors, async () => {
      const prosody = await startBenchProsody(tmp, XMPP_BENCH_USERS);
      out.peers.prosody = prosodyVersion();
      progress(`prosody c2s :${prosody.c2sPort}`);
      // CPU per message by process (gateway, relay, prosody) comes from /proc of these pids.
      out.xmpp = await runXmpp({ secs: cfg.imSecs, rounds: cfg.imRounds, bodyBytes: 100 }, prosody.c2sPort, g.ports.socks5, out.peers.prosody, { gateway: g.cp.pid ?? 0, prosody: prosody.cp.pid ?? 0 });
    });
  }
  // Recording cost: three gateways of its own (store off, writes inline, writer thread).
  if (cfg.only.has('record')) {
    await guarded('record', out.errors, async () => {
      out.record = await runRecord(cfg.repoRoot, tmp, { secs: cfg.imSecs, rounds: cfg.imRounds, bulkLines: cfg.imBulkLines, icapConns: cfg.icapConns });
    });
  }
  if (cfg.only.has('store')) {
    await guarded('store', out.errors, async () => {
      out.store = await runStore({ secs: cfg.imSecs, rounds: cfg.imRounds, batch: 256 }, tmp);
    });
  }
  // AV: the scan path against a bare clamd INSTREAM client, and the verdict cache (starts its own clamd).
  if (cfg.only.has('av')) {
    await guarded('av', out.errors, async () => {
      out.av = await runAvBench({});
    });
  }
}
