import { describe, expect, it } from 'vitest';
import { ReadModel } from '../src/index.js';

const change = (id: string, version: number, position: number, state: unknown) => ({
  tenant: 't',
  type: 'account',
  id,
  version,
  state: state as never,
  updated_at: new Date(0).toISOString(),
  position,
});

/** A state SQLite's JSON functions refuse (nested past 1,000 levels). */
function tooDeep(): unknown {
  let value: unknown = 1;
  for (let i = 0; i < 1_100; i++) value = [value];
  return value;
}

describe('the read model quarantine', () => {
  it('sets aside a row SQLite refuses, applies the others and moves the position on', () => {
    const model = ReadModel.open({ path: ':memory:' });
    model.apply([change('a', 1, 1, { n: 1 })]);
    const applied = model.apply([change('a', 2, 2, tooDeep()), change('b', 1, 3, { n: 2 })]);
    expect(applied.map((c) => c.after.id)).toEqual(['b']);
    expect(model.get('t', 'account', 'a')).toBeUndefined(); // never a stale state
    expect(model.position('t')).toBe(3);
    expect(model.quarantined('t')).toEqual([
      expect.objectContaining({
        type: 'account',
        id: 'a',
        position: 2,
      }),
    ]);
    expect(model.quarantined('t')[0]?.reason).toMatch(/JSON/i);
    expect(model.quarantinedCount).toBe(1);
    model.close();
  });

  it('clears an aggregate when a later state of it applies, or when released', () => {
    const model = ReadModel.open({ path: ':memory:' });
    model.apply([change('a', 1, 1, tooDeep())]);
    model.apply([change('a', 2, 2, { n: 2 })]);
    expect(model.quarantined()).toEqual([]);
    model.quarantine({ tenant: 't', type: 'account', id: 'c', position: 0, reason: 'cannot fold' });
    expect(model.release('t').map((row) => row.id)).toEqual(['c']);
    expect(model.quarantinedCount).toBe(0);
    model.close();
  });
});
