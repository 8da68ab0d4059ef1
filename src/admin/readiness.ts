// Readiness state of every listener plus pluggable checks (scanners later:
// "required scanner reachable" registers a ReadinessCheck).
export type ListenerState = 'starting' | 'bound' | 'draining' | 'closed' | 'failed';

export interface ListenerStatus {
  state: ListenerState;
  address?: string;
  port?: number;
}

export interface ReadinessCheck {
  name: string;
  /** Must be cheap and synchronous: cache the result of any probe. */
  ok(): boolean;
}

export interface ReadyReport {
  ready: boolean;
  listeners: Record<string, ListenerStatus>;
  checks: Record<string, boolean>;
}

export class Readiness {
  private readonly listeners = new Map<string, ListenerStatus>();
  private readonly checks: ReadinessCheck[] = [];

  set(name: string, status: ListenerStatus): void {
    this.listeners.set(name, status);
  }

  setState(name: string, state: ListenerState): void {
    const cur = this.listeners.get(name);
    this.listeners.set(name, { ...cur, state });
  }

  addCheck(check: ReadinessCheck): void {
    this.checks.push(check);
  }

  report(): ReadyReport {
    let ready = this.listeners.size > 0;
    const listeners: Record<string, ListenerStatus> = {};
    for (const [name, st] of this.listeners) {
      listeners[name] = st;
      if (st.state !== 'bound') ready = false;
    }
    const checks: Record<string, boolean> = {};
    for (const c of this.checks) {
      let ok = false;
      try {
        ok = c.ok();
      } catch {
        ok = false;
      }
      checks[c.name] = ok;
      if (!ok) ready = false;
    }
    return { ready, listeners, checks };
  }
}
