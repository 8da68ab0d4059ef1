// The SQLite writer thread: holds the one write connection so inserts, the
// FTS rows and the session upserts never run on the gateway's event loop.
// Requests are handled one at a time, in order; each answer carries its id.
// An error inside a request is answered (the batch stays queued on the main
// side); only a failure to open ends the thread.
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteWriter, type FileReg } from './sqlite-write';
import type { WireBatch } from './sqlite-wire';
import type { WriterReply, WriterRequest } from './sqlite-writer-protocol';

function main(): void {
  const port = parentPort;
  if (port === null) throw new Error('sqlite-writer-worker must run as a worker thread');
  const { path } = workerData as { path: string };
  let w: SqliteWriter;
  try {
    w = new SqliteWriter(path);
  } catch (err) {
    port.postMessage({ fatal: (err as Error).message } satisfies WriterReply);
    return;
  }
  port.postMessage({ ready: true } satisfies WriterReply);
  port.on('message', (m: WriterRequest) => {
    let reply: WriterReply;
    try {
      switch (m.op) {
        case 'write':
          w.write(m.args as WireBatch);
          reply = { id: m.id, ok: true, result: null };
          break;
        case 'putFile':
          w.putFile(m.args as FileReg);
          reply = { id: m.id, ok: true, result: null };
          break;
        case 'deleteBefore': {
          const [before, limit] = m.args as [number, number];
          reply = { id: m.id, ok: true, result: w.deleteBefore(before, limit) };
          break;
        }
        case 'deleteOldest':
          reply = { id: m.id, ok: true, result: w.deleteOldest(m.args as number) };
          break;
        case 'crash':
          // Uncaught on purpose: the thread dies between statements, as a real bug would make it.
          port.removeAllListeners('message');
          setImmediate(() => {
            throw new Error('audit writer: crash requested');
          });
          return;
        case 'close':
          w.close();
          port.postMessage({ id: m.id, ok: true, result: null } satisfies WriterReply);
          port.close();
          return;
      }
    } catch (err) {
      reply = { id: m.id, ok: false, error: (err as Error).message };
    }
    port.postMessage(reply);
  });
}

main();
