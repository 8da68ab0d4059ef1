// Opens N SOCKS5 tunnels through a proxy to the holder, `conc` handshakes
// at a time; each sends an IRC registration (so imgate's IRC dissector
// session exists) and then stays idle. Prints one JSON line when all are up
// (or failed), then holds them until killed or holdSecs pass.
// argv: socksPort dstPort n conc holdSecs
import type net from 'node:net';
import { openTunnel } from './handshake';

const [socksPort, dstPort, nArg, concArg, holdArg] = process.argv.slice(2).map(Number) as [number, number, number, number, number];
const socks: net.Socket[] = [];
let started = 0;
let up = 0;
let errors = 0;
let firstError = '';
const t0 = Date.now();

function next(): void {
  if (started >= nArg) {
    if (up + errors === nArg) report();
    return;
  }
  const i = started++;
  openTunnel({ mode: 'socks5', proxyPort: socksPort, dstPort }, (err, s) => {
    if (err) { errors++; firstError ||= err.message; } else {
      up++;
      socks.push(s);
      s.on('error', () => undefined);
      s.write(`NICK idle${i}\r\nUSER idle${i} 0 * :idle ${i}\r\n`);
    }
    next();
  });
}

let reported = false;
function report(): void {
  if (reported) return;
  reported = true;
  console.log(JSON.stringify({ ready: true, opened: up, errors, firstError, openSecs: (Date.now() - t0) / 1000 }));
  setTimeout(() => process.exit(0), holdArg * 1000);
}

for (let k = 0; k < concArg; k++) next();
