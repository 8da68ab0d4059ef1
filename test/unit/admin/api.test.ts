import { alignBuckets, createApi } from '../../../src/admin/api';
import { parsePolicy } from '../../../src/policy/load';
import { PolicyStore } from '../../../src/policy/store';
import { FakeStore } from './fake-store';

test('series points are re-aligned to bucket starts and merged, whatever the backend returned', () => {
  const got = alignBuckets([{ t: 3_600_123, key: 'irc', count: 1 }, { t: 3_600_999, key: 'irc', count: 2 }, { t: 3_600_500, key: 'xmpp', count: 1 }, { t: 7_200_000, key: 'irc', count: 4 }], 3_600_000);
  expect(got).toEqual([{ t: 3_600_000, key: 'irc', count: 3 }, { t: 3_600_000, key: 'xmpp', count: 1 }, { t: 7_200_000, key: 'irc', count: 4 }]);
});

test('no record store: 503 for store routes, the policy still answers', async () => {
  const policy = new PolicyStore(parsePolicy({ default: 'block', rules: [] }, null));
  const api = createApi({ store: () => null, dataDir: () => '/nonexistent', policy });
  expect(await api('/api/events', new URLSearchParams())).toMatchObject({ status: 503 });
  expect(await api(`/api/files/${'a'.repeat(64)}`, new URLSearchParams())).toMatchObject({ status: 503 });
  expect(await api('/api/policy', new URLSearchParams())).toMatchObject({ status: 200, json: { file: null, default: 'block', rules: [] } });
});

test('the policy answer follows a reload (the live snapshot, not a copy)', async () => {
  const policy = new PolicyStore(parsePolicy({ default: 'allow', rules: [] }, '/p.yaml'));
  const api = createApi({ store: () => new FakeStore(), dataDir: () => '/x', policy });
  const before = (await api('/api/policy', new URLSearchParams())) as { json: { istag: string } };
  policy.replace(parsePolicy({ default: 'allow', rules: [{ id: 'r1', when: { kind: 'file' }, then: 'block' }] }, '/p.yaml'));
  const after = (await api('/api/policy', new URLSearchParams())) as { json: { istag: string; rules: Array<{ id: string }> } };
  expect(after.json.rules.map((r) => r.id)).toEqual(['r1']);
  expect(after.json.istag).not.toBe(before.json.istag);
});
