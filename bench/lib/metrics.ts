// Reads imgate's Prometheus /metrics (admin door) and sums a metric's
// samples, optionally only those whose labels contain a given substring.
import http from 'node:http';

export function scrape(adminPort: number, timeoutMs = 10000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: adminPort, path: '/metrics', timeout: timeoutMs }, (res) => {
      let s = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { s += d; });
      res.on('end', () => (res.statusCode === 200 ? resolve(s) : reject(new Error(`/metrics answered ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error('/metrics timeout')));
    req.on('error', reject);
  });
}

/** Sum of `name` samples (exact metric name, any labels), NaN if absent. */
export function metric(text: string, name: string, labelHas = ''): number {
  let sum = NaN;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (labelHas && !rest.includes(labelHas)) continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(v)) sum = (Number.isNaN(sum) ? 0 : sum) + v;
  }
  return sum;
}
