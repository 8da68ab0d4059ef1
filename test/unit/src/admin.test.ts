import http from 'node:http';
import pino from 'pino';
import { createAdminServer, Metrics, Readiness } from '../../../src/admin';

function get(port: number, path: string, method = 'GET'): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

describe('admin server', () => {
  const metrics = new Metrics();
  const readiness = new Readiness();
  const admin = createAdminServer({ metrics, readiness, logger: pino({ level: 'silent' }) });
  let port = 0;
  beforeAll(async () => {
    port = (await admin.listen(0, '127.0.0.1')).port;
  });
  afterAll(() => admin.close());

  test('/healthz is 200 ok', async () => {
    expect(await get(port, '/healthz')).toMatchObject({ status: 200, body: 'ok\n' });
  });

  test('/readyz follows listener states and checks', async () => {
    readiness.set('icap', { state: 'starting' });
    let r = await get(port, '/readyz');
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body)).toMatchObject({ ready: false, listeners: { icap: { state: 'starting' } } });
    readiness.set('icap', { state: 'bound', address: '127.0.0.1', port: 1 });
    readiness.set('admin', { state: 'bound', address: '127.0.0.1', port });
    r = await get(port, '/readyz');
    expect(r.status).toBe(200);
    expect(r.type).toBe('application/json');
    expect(JSON.parse(r.body)).toEqual({
      ready: true,
      listeners: { icap: { state: 'bound', address: '127.0.0.1', port: 1 }, admin: { state: 'bound', address: '127.0.0.1', port } },
      checks: {},
    });
    let scannerUp = false;
    readiness.addCheck({ name: 'scanner:clamd', ok: () => scannerUp });
    r = await get(port, '/readyz');
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body).checks).toEqual({ 'scanner:clamd': false });
    scannerUp = true;
    expect((await get(port, '/readyz')).status).toBe(200);
    readiness.setState('icap', 'draining');
    expect((await get(port, '/readyz')).status).toBe(503);
  });

  test('/metrics exposes the imgate metrics and process metrics', async () => {
    metrics.connectionsTotal.inc({ door: 'socks5' });
    metrics.icapRequestsTotal.inc({ method: 'REQMOD', status: '204' });
    const r = await get(port, '/metrics');
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^text\/plain/);
    expect(r.body).toContain('imgate_connections_total{door="socks5"} 1');
    expect(r.body).toContain('imgate_icap_requests_total{method="REQMOD",status="204"} 1');
    for (const name of ['imgate_connections_active', 'imgate_bytes_total', 'imgate_refusals_total', 'imgate_icap_request_duration_seconds', 'imgate_policy_verdicts_total', 'process_cpu_user_seconds_total']) {
      expect(r.body).toContain(`# TYPE ${name}`);
    }
  });

  test('unknown paths are 404, other methods 405, HEAD has no body', async () => {
    expect((await get(port, '/nope')).status).toBe(404);
    expect((await get(port, '/healthz', 'POST')).status).toBe(405);
    expect(await get(port, '/healthz', 'HEAD')).toMatchObject({ status: 200, body: '' });
  });
});
