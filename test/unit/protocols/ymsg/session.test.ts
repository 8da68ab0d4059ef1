import { ymsgModule } from '../../../../src/protocols/ymsg';
import { Harness } from '../oscar/harness';
import { STATUS_OFFLINE, authChallenge, authReq, authResp, fileOffer, imIn, imOut, packets, ymsg } from './frames';

function loggedIn(h: Harness, me = 'alice_y'): void {
  h.push('c2s', authReq(me));
  h.push('s2c', authChallenge(me));
  h.push('c2s', authResp(me));
}

describe('YMSG probe', () => {
  it('matches the magic from either side, asks for more on a prefix', () => {
    expect(ymsgModule.probe('c2s', authReq('a'))).toBe('match');
    expect(ymsgModule.probe('s2c', Buffer.from('YMSG'))).toBe('match');
    expect(ymsgModule.probe('c2s', Buffer.from('YM'))).toBe('more');
    expect(ymsgModule.probe('c2s', Buffer.from('GET / HTTP/1.1\r\n'))).toBe('no');
    expect(ymsgModule.probe('c2s', Buffer.from('2a01000100040000', 'hex'))).toBe('no');
  });
});

describe('YMSG session', () => {
  it('forwards an allowed session byte for byte, whole and in small chunks, with login and message events', () => {
    const c2s = Buffer.concat([authReq('alice_y'), authResp('alice_y'), imOut('alice_y', 'bob_y', 'hello bob ✓'), ymsg(0x12, 0, [])]);
    const s2c = Buffer.concat([authChallenge('alice_y'), imIn('alice_y', 'bob_y', 'hey alice')]);
    for (const size of [c2s.length, 1, 3, 19, 21]) {
      const h = new Harness(ymsgModule);
      h.pushSplit('c2s', c2s, size).pushSplit('s2c', s2c, size);
      expect(h.server().equals(c2s)).toBe(true);
      expect(h.client().equals(s2c)).toBe(true);
      expect(h.events.map((e) => [e.draft.kind, e.draft.side, e.draft.account, e.draft.peer, e.draft.text])).toEqual([
        ['login', 'c2s', 'alice_y', undefined, undefined],
        ['message', 'c2s', 'alice_y', 'bob_y', 'hello bob ✓'],
        ['message', 's2c', 'alice_y', 'bob_y', 'hey alice'],
      ]);
    }
  });

  it('blocks an outbound message: dropped, the client gets MESSAGE status 2', () => {
    const h = new Harness(ymsgModule);
    loggedIn(h);
    const before = h.server().length;
    h.push('c2s', Buffer.concat([imOut('alice_y', 'bob_y', 'Project  Falcon launch'), imOut('alice_y', 'bob_y', 'ok')]));
    const sent = packets(h.server().subarray(before));
    expect(sent).toHaveLength(1);
    expect(sent[0]?.pairs).toContainEqual([14, 'ok']);
    const back = packets(h.client()).pop();
    expect(back).toMatchObject({ service: 0x06, status: 2 });
    expect(back?.pairs).toEqual([
      [5, 'alice_y'],
      [4, 'bob_y'],
    ]);
    expect(h.events[1]?.verdict).toEqual({ action: 'block', rule: 'no-falcon' });
  });

  it('drops a blocked inbound message without telling anyone', () => {
    const h = new Harness(ymsgModule);
    loggedIn(h);
    const before = h.client().length;
    h.push('s2c', imIn('alice_y', 'eve_y', 'project falcon leak'));
    expect(h.client().length).toBe(before);
    expect(h.injected).toHaveLength(0);
  });

  it('redacts key 14 and fixes the header length', () => {
    const h = new Harness(ymsgModule);
    loggedIn(h);
    const before = h.server().length;
    h.push('c2s', imOut('alice_y', 'bob_y', 'card 4111 1111 1111 1111 thanks ✓'));
    const out = h.server().subarray(before);
    const [p] = packets(out);
    expect(p?.pairs).toEqual([
      [1, 'alice_y'],
      [5, 'bob_y'],
      [14, 'card **** thanks ✓'],
      [97, '1'],
      [63, ';0'],
      [64, '0'],
      [206, '0'],
    ]);
    expect(out.readUInt16BE(8)).toBe(out.length - 20);
    expect(out.readUInt32BE(12)).toBe(STATUS_OFFLINE);
  });

  it('keeps non-UTF-8 (latin1) bytes intact around a redaction', () => {
    const h = new Harness(ymsgModule);
    loggedIn(h);
    const before = h.server().length;
    h.push('c2s', imOut('alice_y', 'bob_y', Buffer.from('caf\xe9 4111111111111111', 'latin1')));
    const out = h.server().subarray(before);
    expect(out.includes(Buffer.from('caf\xe9 ****', 'latin1'))).toBe(true);
  });

  it('reports and blocks file offers (FILETRANS_15) by name', () => {
    const h = new Harness(ymsgModule);
    loggedIn(h);
    const before = h.server().length;
    const ok = fileOffer('alice_y', 'bob_y', 'report.pdf', 12345);
    h.push('c2s', ok);
    h.push('c2s', fileOffer('alice_y', 'bob_y', 'tool.exe', 99));
    expect(h.server().subarray(before).equals(ok)).toBe(true);
    expect(h.events.slice(1).map((e) => [e.draft.kind, e.draft.peer, e.draft.file, e.verdict.action])).toEqual([
      ['file', 'bob_y', { name: 'report.pdf', size: 12345 }, 'allow'],
      ['file', 'bob_y', { name: 'tool.exe', size: 99 }, 'block'],
    ]);
  });

  it('reports the legacy file services 0x46 and 0x4D', () => {
    const h = new Harness(ymsgModule);
    loggedIn(h);
    h.push('s2c', ymsg(0x4d, 1, [[5, 'alice_y'], [4, 'bob_y'], [27, 'a.txt'], [28, '5']]));
    h.push('s2c', ymsg(0x46, 1, [[5, 'alice_y'], [4, 'bob_y'], [27, 'b.txt'], [28, '6'], [14, 'see file']]));
    expect(h.events.slice(1).map((e) => [e.draft.side, e.draft.peer, e.draft.file?.name])).toEqual([
      ['s2c', 'bob_y', 'a.txt'],
      ['s2c', 'bob_y', 'b.txt'],
    ]);
  });

  it('closes the connection when a banned account logs in', () => {
    const h = new Harness(ymsgModule);
    h.push('c2s', authReq('mallory'));
    expect(h.closed).toMatch(/mallory.*banned-account/);
    expect(h.server().length).toBe(0);
  });

  it('closes on bad magic and on a packet over maxUnitBytes, before buffering it', () => {
    const a = new Harness(ymsgModule);
    a.push('c2s', Buffer.from('YMSX'));
    expect(a.closed).toMatch(/bad magic/);
    const b = new Harness(ymsgModule, undefined, { maxUnitBytes: 64 });
    const big = imOut('alice_y', 'bob_y', 'x'.repeat(100));
    b.push('c2s', big.subarray(0, 20));
    expect(b.closed).toMatch(/exceeds the 64-byte limit/);
    expect((b.session as unknown as { heldBytes: number }).heldBytes).toBe(0);
  });
});
