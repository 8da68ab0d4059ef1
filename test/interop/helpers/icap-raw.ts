// Raw ICAP bytes over TCP, for what no well-behaved client sends (malformed
// requests, unknown methods) and for reading OPTIONS headers exactly.
import net from 'node:net';

export interface RawIcapResponse {
  /** "ICAP/1.0 200 OK" or '' when the server closed without answering. */
  statusLine: string;
  status: number;
  headers: Map<string, string>;
  /** Everything received (head + whatever followed before close/timeout). */
  raw: Buffer;
  /** The server closed the connection. */
  closed: boolean;
}

/**
 * Sends `payload`, reads until the response head is complete (then waits
 * `lingerMs` for a close) or the server closes, or timeoutMs passes.
 */
export function icapRaw(
  port: number,
  payload: Buffer | string,
  opts: { timeoutMs?: number; lingerMs?: number } = {},
): Promise<RawIcapResponse> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let closed = false;
    let finished = false;
    let lingerTimer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(overall);
      clearTimeout(lingerTimer);
      sock.destroy();
      resolve(parse(Buffer.concat(chunks), closed));
    };
    const overall = setTimeout(finish, opts.timeoutMs ?? 5000);
    sock.on('connect', () => sock.write(payload));
    sock.on('data', (c: Buffer) => {
      chunks.push(c);
      if (lingerTimer === undefined && Buffer.concat(chunks).includes('\r\n\r\n')) {
        lingerTimer = setTimeout(finish, opts.lingerMs ?? 0);
      }
    });
    sock.on('end', () => {
      closed = true;
      finish();
    });
    sock.on('close', () => {
      closed = true;
      finish();
    });
    sock.on('error', () => {
      closed = true;
      finish();
    });
  });
}

function parse(raw: Buffer, closed: boolean): RawIcapResponse {
  const headEnd = raw.indexOf('\r\n\r\n');
  const head = (headEnd >= 0 ? raw.subarray(0, headEnd) : raw).toString('latin1');
  const [statusLine = '', ...rest] = head.split('\r\n');
  const headers = new Map<string, string>();
  for (const line of rest) {
    const i = line.indexOf(':');
    if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  const m = /^ICAP\/1\.0 (\d{3})/.exec(statusLine);
  return { statusLine, status: m ? Number(m[1]) : 0, headers, raw, closed };
}

/** OPTIONS for a service path, as Squid sends it (no Encapsulated). */
export function icapOptions(port: number, service: string): Promise<RawIcapResponse> {
  return icapRaw(
    port,
    `OPTIONS icap://127.0.0.1:${port}${service} ICAP/1.0\r\nHost: 127.0.0.1:${port}\r\nAllow: 206, trailers\r\n\r\n`,
  );
}
