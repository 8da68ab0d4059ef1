import { oscarModule } from '../../../../src/protocols/oscar';

const hex = (s: string): Buffer => Buffer.from(s.replace(/ /g, ''), 'hex');

describe('OSCAR probe', () => {
  it('matches the server hello and a client hello with TLVs', () => {
    expect(oscarModule.probe('s2c', hex('2a01 198a 0004 00000001'))).toBe('match');
    expect(oscarModule.probe('c2s', hex('2a01 0001 0135 00000001 0006 0100'))).toBe('match');
  });
  it('asks for more on a short prefix', () => {
    for (const s of ['2a', '2a01', '2a01198a00', '2a01198a000400']) expect(oscarModule.probe('s2c', hex(s))).toBe('more');
  });
  it('rejects other protocols and non-hello frames', () => {
    expect(oscarModule.probe('c2s', Buffer.from('NICK x\r\n'))).toBe('no');
    expect(oscarModule.probe('c2s', hex('16030100'))).toBe('no');
    expect(oscarModule.probe('c2s', hex('2a02 0001 000a 00010002000000000001'))).toBe('no');
    expect(oscarModule.probe('s2c', hex('2a01 0001 0008 00000001 00010000'))).toBe('no');
    expect(oscarModule.probe('c2s', hex('2a01 0001 0004 00000002'))).toBe('no');
    expect(oscarModule.probe('c2s', Buffer.from('YMSG'))).toBe('no');
  });
});
