// inspect.file_hold_back_bytes: how much of a scanned tunnel file waits for
// its AV verdict (src/config/schema.ts -> InspectSettings -> FileTransfer).
import { ConfigError, parseConfig } from '../../../src/config';
import { inspectSettingsFromConfig } from '../../../src/inspect';

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const withHoldBack = (v: unknown) => parseConfig({ inspect: { file_hold_back_bytes: v } }, null);

describe('inspect.file_hold_back_bytes', () => {
  test('defaults to 8 KiB and reaches the inspect settings', () => {
    const c = parseConfig({}, null);
    expect(c.inspect.file_hold_back_bytes).toBe(8192);
    expect(inspectSettingsFromConfig(c).fileHoldBackBytes).toBe(8192);
  });

  test('accepts 0 (hold nothing), the 16 MiB bound and values between', () => {
    for (const v of [0, 1, 65_536, 16 * 1024 * 1024]) {
      expect(inspectSettingsFromConfig(withHoldBack(v)).fileHoldBackBytes).toBe(v);
    }
  });

  test.each([-1, 16 * 1024 * 1024 + 1, 1.5, '8192', null])('rejects %p with an error naming the key', (v) => {
    const problems = problemsOf(() => withHoldBack(v));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/inspect\.file_hold_back_bytes/);
    expect(problems[0]).toMatch(/expected an integer 0-16777216/);
  });
});
