// Live tunnel registry, so shutdown can wait for tunnels to finish and then
// destroy what is left.
import type { Socket } from 'node:net';

export interface LiveTunnel {
  id: string;
  client: Socket;
  upstream: Socket;
}

export class TunnelTracker {
  private readonly live = new Set<LiveTunnel>();
  private waiters: Array<() => void> = [];

  get size(): number {
    return this.live.size;
  }

  add(t: LiveTunnel): void {
    this.live.add(t);
  }

  delete(t: LiveTunnel): void {
    if (!this.live.delete(t)) return;
    if (this.live.size === 0 && this.waiters.length > 0) {
      const w = this.waiters;
      this.waiters = [];
      for (const fn of w) fn();
    }
  }

  /** Resolves true when no tunnel is left, false when the timeout hits first. */
  waitIdle(timeoutMs: number): Promise<boolean> {
    if (this.live.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      this.waiters.push(done);
    });
  }

  destroyAll(): number {
    const n = this.live.size;
    for (const t of [...this.live]) {
      t.client.destroy();
      t.upstream.destroy();
    }
    return n;
  }
}
