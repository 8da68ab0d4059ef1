// Port helpers. Ports come from the kernel's ephemeral range (never the
// well-known defaults other engineers may be using), loopback only.
import net from 'node:net';

const FORBIDDEN = new Set([1344, 1080, 3129, 9090, 3128]);

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr && typeof addr === 'object' && !FORBIDDEN.has(addr.port)) resolve(addr.port);
        else freePort().then(resolve, reject);
      });
    });
  });
}

/** Resolve once something accepts TCP on 127.0.0.1:port; reject after timeoutMs. */
export async function waitPort(port: number, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => { s.destroy(); resolve(false); });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
