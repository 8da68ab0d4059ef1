// The inspecting relay disposes a tunnel's dissector session exactly once,
// whatever ended the tunnel (DissectorSession.dispose in src/protocols/
// types.ts): both ends closed, the session's own close, idle timeout, a reset,
// gateway stop, and also after the session let go to a bare pipe. Real
// loopback sockets, the relay and door rig of helpers.ts.
import type net from 'node:net';
import type { DissectorSession, ProtocolModule } from '../../../src/protocols/types';
import { closeAll, collect, listen, rig, sleep, until } from './helpers';
import { lineModule } from './modules';

afterAll(closeAll);

/** The "line" test protocol, with a dispose() that counts. */
const disposals: number[] = [];
const countingLine: ProtocolModule = {
  name: 'line',
  probe: (from, head) => lineModule.probe(from, head),
  create(ctx, out): DissectorSession {
    const inner = lineModule.create(ctx, out);
    const i = disposals.push(0) - 1;
    return {
      push: (from, chunk) => inner.push(from, chunk),
      end: (from) => inner.end(from),
      get passthrough() {
        return inner.passthrough;
      },
      dispose: () => {
        disposals[i] = (disposals[i] as number) + 1;
      },
    };
  },
};

async function upstreamServer() {
  let resolveConn!: (s: net.Socket) => void;
  const conn = new Promise<net.Socket>((r) => (resolveConn = r));
  const port = await listen((s) => resolveConn(s));
  return { port, conn };
}

/** Opens a tunnel that is inspected (HELLO starts the session) and returns its disposal counter index. */
async function inspected(r: ReturnType<typeof rig>) {
  const up = await upstreamServer();
  const t = await r.tunnel(up.port);
  const upConn = await up.conn;
  const atUp = collect(upConn);
  const before = disposals.length;
  t.client.write('HELLO\n');
  await until(() => atUp.data().toString().includes('HELLO'));
  expect(disposals.length).toBe(before + 1);
  return { t, upConn, atUp, i: before };
}

/** Settles a little longer than the close events need, so a second dispose would have shown. */
const settled = () => sleep(50);

describe('inspecting relay: session dispose', () => {
  test('both ends close normally: disposed once, after both sockets closed', async () => {
    const r = rig({ modules: [countingLine] });
    const { t, upConn, i } = await inspected(r);
    t.client.end();
    await until(() => upConn.readableEnded);
    expect(disposals[i]).toBe(0);
    upConn.end();
    await until(() => r.tracker.size === 0);
    await until(() => disposals[i] === 1);
    await settled();
    expect(disposals[i]).toBe(1);
  });

  test('the session closes the tunnel: disposed once', async () => {
    const r = rig({ modules: [countingLine] });
    const { t, i } = await inspected(r);
    t.client.write('CLOSE\n');
    await until(() => r.tracker.size === 0);
    await until(() => disposals[i] === 1);
    await settled();
    expect(disposals[i]).toBe(1);
  });

  test('idle timeout: disposed once', async () => {
    const r = rig({ modules: [countingLine], idleMs: 200 });
    const { i } = await inspected(r);
    await until(() => r.lines.some((l) => l.msg === 'tunnel closed' && l.reason === 'idle timeout'));
    await until(() => disposals[i] === 1);
    await settled();
    expect(disposals[i]).toBe(1);
  });

  test('a reset of the client: disposed once', async () => {
    const r = rig({ modules: [countingLine] });
    const { t, i } = await inspected(r);
    t.client.resetAndDestroy();
    await until(() => r.tracker.size === 0);
    await until(() => disposals[i] === 1);
    await settled();
    expect(disposals[i]).toBe(1);
  });

  test('gateway stop (every tunnel destroyed): disposed once', async () => {
    const r = rig({ modules: [countingLine] });
    const a = await inspected(r);
    const b = await inspected(r);
    expect(r.tracker.destroyAll()).toBe(2);
    await until(() => r.tracker.size === 0);
    await until(() => disposals[a.i] === 1 && disposals[b.i] === 1);
    await settled();
    expect([disposals[a.i], disposals[b.i]]).toEqual([1, 1]);
  });

  test('a session that let go to a bare pipe is still disposed once when the tunnel ends', async () => {
    const r = rig({ modules: [countingLine] });
    const { t, upConn, atUp, i } = await inspected(r);
    t.client.write('PASS\nplain bytes\n');
    await until(() => atUp.data().toString().includes('plain bytes'));
    const gwClient = await t.doorSide;
    // Piped: the inspector's data listener is gone.
    expect(gwClient.listenerCount('data')).toBe(1);
    expect(disposals[i]).toBe(0);
    t.client.end();
    upConn.end();
    await until(() => r.tracker.size === 0);
    await until(() => disposals[i] === 1);
    await settled();
    expect(disposals[i]).toBe(1);
  });
});
