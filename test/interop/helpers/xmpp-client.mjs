// A real @xmpp/client (ESM-only) in its own node process, driven by JSON
// lines on stdin and reporting JSON lines on stdout, so jest (CommonJS) can
// run several real clients without an ESM transform.
//   argv: service domain username password
//   stdin:  {"op":"send","el":{"name":"message","attrs":{...},"children":[el|string...]}}  {"op":"sm"}  {"op":"stop"}
//   stdout: {"ev":"online","jid":...} {"ev":"stanza","xml":...} {"ev":"error",...} {"ev":"offline"}
import { client, xml } from '@xmpp/client';
import readline from 'node:readline';

const [service, domain, username, password] = process.argv.slice(2);
const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

const xmpp = client({
  service,
  domain,
  resource: 't',
  // On a plaintext stream @xmpp/client would pick SCRAM; the tests force PLAIN (peers.md §4).
  credentials: (authenticate) => authenticate({ username, password }, 'PLAIN'),
});
// One connection attempt per process: a refused login must not be retried.
xmpp.reconnect?.stop?.();

const build = (e) => (typeof e === 'string' ? e : xml(e.name, e.attrs ?? {}, ...(e.children ?? []).map(build)));

xmpp.on('stanza', (s) => say({ ev: 'stanza', xml: s.toString() }));
xmpp.on('nonza', (s) => say({ ev: 'nonza', xml: s.toString() }));
xmpp.on('error', (err) => say({ ev: 'error', name: err.name, condition: err.condition, text: err.text, message: err.message }));
xmpp.on('offline', () => say({ ev: 'offline' }));
xmpp.on('online', (jid) => say({ ev: 'online', jid: jid.toString() }));

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', async (line) => {
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch {
    return;
  }
  try {
    if (cmd.op === 'send') {
      await xmpp.send(build(cmd.el));
      say({ ev: 'sent', id: cmd.el.attrs?.id });
    } else if (cmd.op === 'sm') {
      const sm = xmpp.streamManagement;
      say({ ev: 'sm', enabled: sm.enabled, outbound: sm.outbound, queued: sm.outbound_q.length, inbound: sm.inbound });
    } else if (cmd.op === 'stop') {
      await xmpp.stop().catch(() => {});
      process.exit(0);
    }
  } catch (err) {
    say({ ev: 'error', name: err.name, message: err.message });
  }
});
rl.on('close', () => process.exit(0));

xmpp.start().catch((err) => {
  say({ ev: 'start-failed', name: err.name, condition: err.condition, text: err.text, message: err.message });
});
