// A fleet of two real imgate processes (bin/imgate.js from dist/) writing one
// real PostgreSQL 15: both start at once on an empty database (the schema
// is created once, under the advisory lock), IRC users talk through each
// gateway to a real ngircd, and `imgate report` / `imgate search` (the CLI,
// pointed at either gateway's config) show the events of both.
import { spawnSync } from 'node:child_process';
import { Gateway, IMGATE_BIN } from './helpers/gateway';
import { IrcClient } from './helpers/irc-client';
import { Ngircd } from './helpers/ngircd';
import { sleep } from './helpers/ports';
import { Postgres } from './helpers/postgres';

const CHANNEL = '#fleet';
type Row = Record<string, unknown>;

function cli(gw: Gateway, args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [IMGATE_BIN, ...args, '--config', gw.configPath], { encoding: 'utf8', timeout: 30000, maxBuffer: 16 * 1024 * 1024 });
}
/** SOCKS5 with user/password; the helper's declared type names only host and port but passes the rest to the socks client. */
const viaSocks = (port: number, user: string, pass: string): { host: string; port: number } => ({ host: '127.0.0.1', port, user, pass }) as { host: string; port: number };
const jsonLines = (s: string): Row[] => s.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Row);

async function poll<T>(get: () => T, ok: (v: T) => boolean, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = get();
    if (ok(v) || Date.now() > deadline) return v;
    await sleep(200);
  }
}

describe('a fleet of two gateways writing one PostgreSQL', () => {
  let pg: Postgres;
  let ircd: Ngircd;
  const gws: Gateway[] = [];
  const clients: IrcClient[] = [];

  beforeAll(async () => {
    pg = await Postgres.start();
    const url = await pg.createDatabase('fleet');
    ircd = await Ngircd.start();
    const audit = { backend: 'postgres', postgres: { url, pool_max: 4 }, flush_interval_ms: 100 };
    // Started together, on an empty database: the migration must not race.
    gws.push(
      ...(await Promise.all([
        Gateway.start({ name: 'fleet1', users: [{ name: 'alice', password: 'alice-pw' }], config: { socks5: { auth: 'userpass' }, audit } }),
        Gateway.start({ name: 'fleet2', users: [{ name: 'carol', password: 'carol-pw' }], config: { socks5: { auth: 'userpass' }, audit } }),
      ])),
    );
  }, 60000);

  afterAll(async () => {
    for (const c of clients) c.quit();
    await sleep(100);
    for (const g of gws) await g.cleanup();
    await ircd?.stop();
    await pg?.stop();
  }, 60000);

  test('messages through each gateway are in one store: report counts both, search finds both', async () => {
    const [gw1, gw2] = gws as [Gateway, Gateway];
    const dave = await IrcClient.connect({ port: ircd.port, nick: 'dave' });
    const alice = await IrcClient.connect({ port: ircd.port, nick: 'alice', socks: viaSocks(gw1.ports.socks5, 'alice', 'alice-pw') });
    const carol = await IrcClient.connect({ port: ircd.port, nick: 'carol', socks: viaSocks(gw2.ports.socks5, 'carol', 'carol-pw') });
    clients.push(dave, alice, carol);
    for (const c of [dave, alice, carol]) c.join(CHANNEL);
    for (const [c, nick] of [[dave, 'dave'], [alice, 'alice'], [carol, 'carol']] as const) {
      expect(await c.waitLine((l) => l.includes(` 366 ${nick} ${CHANNEL} `))).not.toBeNull();
    }
    alice.say(CHANNEL, 'alpha report from the first gateway');
    carol.say(CHANNEL, 'bravo report from the second gateway');
    carol.say(CHANNEL, 'charlie also via the second gateway');
    expect(await dave.waitLine((l) => l.endsWith('alpha report from the first gateway'))).not.toBeNull();
    expect(await dave.waitLine((l) => l.endsWith('charlie also via the second gateway'))).not.toBeNull();

    // The CLI of either node sees the whole fleet.
    type Report = { total: { messages: number }; by_user: Array<{ key: string; messages: number; top_peers: Array<{ peer: string; count: number }> }> };
    // Each gateway records what its user sent (out) and what reached her (in):
    // alice 1 out + 2 in through gw1, carol 2 out + 1 in through gw2.
    const report = await poll(
      () => JSON.parse(cli(gw1, ['report', '--json']).stdout || '{}') as Partial<Report>,
      (r) => (r.total?.messages ?? 0) >= 6,
    );
    expect(report.total?.messages).toBe(6);
    const line = (u: string): Report['by_user'][number] | undefined => report.by_user?.find((l) => l.key === u);
    expect(line('alice')?.messages).toBe(3);
    expect(line('carol')?.messages).toBe(3);
    expect(line('alice')?.top_peers.map((p) => p.peer)).toContain(CHANNEL);
    expect(line('carol')?.top_peers.map((p) => p.peer)).toContain(CHANNEL);
    const out = jsonLines(cli(gw1, ['search', '', '--protocol', 'irc', '--json']).stdout).filter((r) => r.kind === 'message' && r.direction === 'out');
    expect(out.map((r) => [r.user, r.text]).sort()).toEqual([
      ['alice', 'alpha report from the first gateway'],
      ['carol', 'bravo report from the second gateway'],
      ['carol', 'charlie also via the second gateway'],
    ]);
    const table = cli(gw2, ['report']);
    expect(table.status).toBe(0);
    expect(table.stdout).toMatch(/alice/);
    expect(table.stdout).toMatch(/carol/);

    const hits = jsonLines(cli(gw2, ['search', 'report gateway', '--json']).stdout).filter((r) => r.direction === 'out');
    expect(hits.map((r) => [r.user, r.text]).sort()).toEqual([
      ['alice', 'alpha report from the first gateway'],
      ['carol', 'bravo report from the second gateway'],
    ]);
    for (const r of hits) expect(r).toMatchObject({ protocol: 'irc', peer: CHANNEL, direction: 'out', action: 'allow', door: 'socks5' });
    // Each process writes under its own run id, so equal connection ids never mix sessions.
    const runs = new Set(jsonLines(cli(gw1, ['search', '', '--protocol', 'irc', '--json']).stdout).map((r) => r.run));
    expect(runs.size).toBe(2);
    const one = jsonLines(cli(gw1, ['search', 'charlie', '--user', 'carol', '--json']).stdout).filter((r) => r.direction === 'out');
    expect(one.map((r) => r.text)).toEqual(['charlie also via the second gateway']);
  }, 60000);
});
