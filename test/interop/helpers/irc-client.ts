// A typed wrapper over irc-framework 4.14 (no type declarations ship with
// it): connect (directly or through a SOCKS5 proxy), join, say, CTCP, and
// every line received, so tests can wait for what a user would see.
import { sleep } from './ports';

interface RawEvent {
  line: string;
  from_server: boolean;
}

interface IrcFrameworkClient {
  connect(opts: Record<string, unknown>): void;
  on(event: 'registered', fn: () => void): void;
  on(event: 'raw', fn: (e: RawEvent) => void): void;
  on(event: 'close' | 'socket close', fn: () => void): void;
  on(event: 'socket error', fn: (err: Error) => void): void;
  join(channel: string): void;
  say(target: string, text: string): void;
  ctcpRequest(target: string, type: string, ...params: string[]): void;
  raw(...args: string[]): void;
  quit(msg?: string): void;
  connection?: { end?: () => void };
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const IRC = require('irc-framework') as { Client: new (opts?: Record<string, unknown>) => IrcFrameworkClient };

export interface IrcClientOptions {
  port: number;
  nick: string;
  socks?: { host: string; port: number };
}

export class IrcClient {
  readonly received: string[] = [];
  private readonly client: IrcFrameworkClient;
  private closed = false;

  private constructor(readonly nick: string) {
    this.client = new IRC.Client();
    this.client.on('raw', (e) => {
      if (e.from_server) this.received.push(e.line.replace(/\r?\n$/, ''));
    });
    this.client.on('close', () => {
      this.closed = true;
    });
  }

  static connect(opts: IrcClientOptions, timeoutMs = 10000): Promise<IrcClient> {
    const c = new IrcClient(opts.nick);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${opts.nick}: not registered after ${timeoutMs} ms; got:\n${c.received.join('\n')}`)), timeoutMs);
      c.client.on('registered', () => {
        clearTimeout(timer);
        resolve(c);
      });
      c.client.on('socket error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      c.client.connect({
        host: '127.0.0.1',
        port: opts.port,
        nick: opts.nick,
        username: opts.nick,
        gecos: opts.nick,
        auto_reconnect: false,
        ...(opts.socks ? { socks: opts.socks } : {}),
      });
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  join(channel: string): void {
    this.client.join(channel);
  }

  say(target: string, text: string): void {
    this.client.say(target, text);
  }

  ctcp(target: string, type: string, ...params: string[]): void {
    this.client.ctcpRequest(target, type, ...params);
  }

  /** Waits until a received line satisfies `pred`; returns it, or null after timeoutMs. */
  async waitLine(pred: (line: string) => boolean, timeoutMs = 5000): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.received.find(pred);
      if (hit !== undefined) return hit;
      if (Date.now() > deadline) return null;
      await sleep(20);
    }
  }

  quit(): void {
    if (!this.closed) this.client.quit('bye');
  }
}
