import { describe, expect, it } from 'vitest';
import { atLeast, featuresOf, parseServerVersion } from '../src/jetstream/index.js';

describe('server version', () => {
  it('parses release and pre-release versions', () => {
    expect(parseServerVersion('2.9.10')).toMatchObject({ major: 2, minor: 9, patch: 10 });
    expect(parseServerVersion('v2.12.0-RC.1')).toMatchObject({ major: 2, minor: 12, patch: 0 });
    expect(() => parseServerVersion('latest')).toThrow(/cannot parse/);
  });

  it('compares numerically, not as text', () => {
    expect(atLeast(parseServerVersion('2.10.0'), '2.9.0')).toBe(true);
    expect(atLeast(parseServerVersion('2.9.10'), '2.9.2')).toBe(true);
    expect(atLeast(parseServerVersion('2.9.10'), '2.10.0')).toBe(false);
    expect(atLeast(parseServerVersion('3.0.0'), '2.12.0')).toBe(true);
  });

  it('gives 2.9 direct get but none of the features that 2.9 silently ignores', () => {
    expect(featuresOf(parseServerVersion('2.9.10'))).toMatchObject({
      directGet: true,
      v2_11: false,
      atomicBatch: false,
    });
    expect(featuresOf(parseServerVersion('2.8.4')).directGet).toBe(false);
    expect(featuresOf(parseServerVersion('2.12.1'))).toMatchObject({
      v2_11: true,
      atomicBatch: true,
    });
  });
});
