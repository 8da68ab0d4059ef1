// Pre-flight check before timing an ICAP server: icapload counts any complete
// response, so a server answering 500 quickly would look fast. Send the exact
// message icapload sends and verify the answer is a real echo (200 with a
// res-hdr and the whole body back) or, in 204 mode, a 204.
import net from 'node:net';

function message(port: number, service: string, size: number, mode: string): Buffer {
  // Same bytes as bench/tools/icapload.mjs builds.
  const host = '127.0.0.1';
  const body = Buffer.alloc(size, 0x61);
  const reqHdr = 'GET http://example.test/f.bin HTTP/1.1\r\nHost: example.test\r\n\r\n';
  const resHdr = `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${size}\r\n\r\n`;
  const allow = mode === '204' ? 'Allow: 204\r\n' : '';
  const icap = `RESPMOD icap://${host}:${port}/${service} ICAP/1.0\r\nHost: ${host}\r\n${allow}Encapsulated: req-hdr=0, res-hdr=${reqHdr.length}, res-body=${reqHdr.length + resHdr.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(icap + reqHdr + resHdr), Buffer.from(`${size.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
}

/** Checks a complete response in buf; null while incomplete, else a verdict. */
function verdict(buf: Buffer, size: number, mode: string): { ok: boolean; why: string } | null {
  const he = buf.indexOf('\r\n\r\n');
  if (he < 0) return null;
  const head = buf.subarray(0, he).toString('latin1');
  const status = Number(head.split(' ')[1]);
  // With Allow: 204 a 204 is the expected answer, but a full echo is also
  // legal (RFC 3507 4.6); c-icap's echo service does that. Record which.
  if (mode === '204' && status === 204) return { ok: true, why: '204' };
  if (status !== 200) return { ok: false, why: `expected 200, got: ${head.split('\r\n')[0]}` };
  const enc = /^Encapsulated:\s*(.*)$/im.exec(head)?.[1] ?? '';
  const parts = new Map(enc.split(',').map((s) => s.trim().split('=') as [string, string]).map(([k, v]) => [k, Number(v)]));
  if (!parts.has('res-hdr') || !parts.has('res-body')) return { ok: false, why: `Encapsulated without res-hdr/res-body: ${enc}` };
  let p = he + 4 + parts.get('res-body')!;
  let got = 0;
  for (;;) {
    const le = buf.indexOf('\r\n', p);
    if (le < 0) return null;
    const n = parseInt(buf.subarray(p, le).toString('latin1'), 16);
    if (n === 0) break;
    if (le + 2 + n + 2 > buf.length) return null;
    got += n;
    p = le + 2 + n + 2;
  }
  return got === size ? { ok: true, why: `200 echo of ${got} bytes${mode === '204' ? ' (no 204 despite Allow: 204)' : ''}` } : { ok: false, why: `echoed ${got} of ${size} body bytes` };
}

export function checkIcapEcho(port: number, service: string, size: number, mode: string, timeoutMs = 10000): Promise<{ ok: boolean; why: string }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const finish = (v: { ok: boolean; why: string }): void => { clearTimeout(t); s.destroy(); resolve(v); };
    const t = setTimeout(() => finish({ ok: false, why: `no complete answer in ${timeoutMs} ms (${buf.length} bytes)` }), timeoutMs);
    s.on('connect', () => s.write(message(port, service, size, mode)));
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const v = verdict(buf, size, mode);
      if (v) finish(v);
    });
    s.on('error', (e) => finish({ ok: false, why: e.message }));
    s.on('end', () => finish(verdict(buf, size, mode) ?? { ok: false, why: `connection closed after ${buf.length} bytes` }));
  });
}
