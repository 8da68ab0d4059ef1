// Jest-side handle on one real @xmpp/client running in a child node process
// (xmpp-client.mjs): send stanzas, wait for what arrives.
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { cleanEnv } from './process';
import { sleep } from './ports';

export interface XmlEl {
  name: string;
  attrs?: Record<string, string>;
  children?: (XmlEl | string)[];
}

export type ClientEvent = {
  ev: string;
  xml?: string;
  jid?: string;
  condition?: string;
  text?: string;
  message?: string;
  name?: string;
  enabled?: boolean;
  outbound?: number;
  queued?: number;
  inbound?: number;
};

const SCRIPT = path.join(__dirname, 'xmpp-client.mjs');

export class XmppClient {
  readonly events: ClientEvent[] = [];
  private readonly child: ChildProcess;
  private buf = '';
  stderr = '';

  constructor(service: string, domain: string, user: string, password: string) {
    this.child = spawn(process.execPath, [SCRIPT, service, domain, user, password], {
      cwd: path.resolve(__dirname, '..', '..', '..'),
      env: cleanEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdout?.on('data', (b: Buffer) => {
      this.buf += b.toString('utf8');
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        try {
          this.events.push(JSON.parse(line) as ClientEvent);
        } catch {
          /* not ours */
        }
      }
    });
    this.child.stderr?.on('data', (b: Buffer) => {
      this.stderr += b.toString('utf8');
    });
  }

  send(el: XmlEl): void {
    this.child.stdin?.write(`${JSON.stringify({ op: 'send', el })}\n`);
  }

  /** Asks the client for its XEP-0198 counters (answered as an 'sm' event). */
  smState(): void {
    this.child.stdin?.write(`${JSON.stringify({ op: 'sm' })}\n`);
  }

  message(to: string, body: string, id: string): void {
    this.send({ name: 'message', attrs: { to, type: 'chat', id }, children: [{ name: 'body', children: [body] }] });
  }

  /** Waits for an event matching pred (looking at all events since `from`). */
  async waitFor(pred: (e: ClientEvent) => boolean, timeoutMs = 8000, from = 0): Promise<ClientEvent | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.events.slice(from).find(pred);
      if (hit) return hit;
      if (Date.now() > deadline || this.child.exitCode !== null) return null;
      await sleep(25);
    }
  }

  stanzas(): string[] {
    return this.events.filter((e) => e.ev === 'stanza').map((e) => e.xml as string);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin?.write(`${JSON.stringify({ op: 'stop' })}\n`);
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    const t = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  }
}
