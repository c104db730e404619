import type { JsonValue } from '@tenantfold/core';
import { ProgramLimitError } from '@tenantfold/core';
import type { Program } from '@tenantfold/programs';
import { ProgramRuntime } from '@tenantfold/programs';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * `Retain` keeps `n` numbers (8 bytes each), or with `buffer` an ArrayBuffer
 * of `n` bytes, past the call: private fields stamped onto the frozen
 * Object.prototype (a base constructor that returns another object makes a
 * subclass add its fields to that object). `Work` holds as much for the call
 * only (numbers in blocks of 100,000, so collections run meanwhile), `Hog`
 * allocates without end.
 */
const LEAKY = `
class Base { constructor(target) { return target; } }
const junk = (data) => (data.buffer ? new ArrayBuffer(data.n) : new Array(data.n).fill(1));
function decide(state, command) {
  const { type, data } = command;
  if (type === 'Retain') {
    class Stamp extends Base { #junk = junk(data); }
    new Stamp(Object.prototype);
  }
  if (type === 'Work' && data.buffer) junk(data);
  if (type === 'Work' && !data.buffer) {
    const held = [];
    for (let i = 0; i < data.n; i += 1e5) held.push(junk({ n: Math.min(data.n - i, 1e5) }));
  }
  if (type === 'Hog') { const a = []; for (;;) a.push(new Array(1e6).fill(1)); }
  return { type: 'Done', data: { type } };
}
`;

const MB = 1024 * 1024;

describe('memory a call leaves behind', () => {
  const runtimes: ProgramRuntime[] = [];
  afterEach(() => {
    for (const made of runtimes.splice(0)) made.dispose();
  });

  /** LEAKY on one isolate of 16 MB, so every call lands on the isolate the last one used. */
  async function leaky(): Promise<{ runtime: ProgramRuntime; program: Program }> {
    const runtime = new ProgramRuntime({ isolates: 1, limits: { memoryMb: 16 } });
    runtimes.push(runtime);
    return { runtime, program: await runtime.load({ filename: 'leaky.js', code: LEAKY }) };
  }

  const call = (program: Program, type: string, data: JsonValue = {}) =>
    program.call('decide', [{}, { type, data }], { cpuMs: 5_000 });

  const done = (type: string) => ({
    kind: 'returned',
    json: `{"type":"Done","data":{"type":"${type}"}}`,
  });

  it.each([
    ['12 MB of numbers', { n: 1.5e6 }, { n: 1.5e6 }],
    ['an ArrayBuffer of 12 MB', { n: 12 * MB, buffer: true }, { n: 8 * MB, buffer: true }],
  ])('does not charge the next caller for %s the last call kept', async (_what, kept, needed) => {
    const { runtime, program } = await leaky();
    expect(await call(program, 'Retain', kept)).toEqual(done('Retain'));
    // The isolate is replaced at once, before any call runs out of memory…
    expect(runtime.stats).toMatchObject({ recycles: 1, restarts: 0 });
    // …so another tenant's call, fine on a fresh isolate but not next to what was kept, succeeds.
    expect(await call(program, 'Work', needed)).toEqual(done('Work'));
    expect(runtime.stats.restarts).toBe(0);
  });

  it('does not let a little kept on every call add up to the limit', async () => {
    const { runtime, program } = await leaky();
    for (let i = 0; i < 12; i++) {
      expect(await call(program, 'Retain', { n: 3e5 })).toEqual(done('Retain'));
      expect(await call(program, 'Work', { n: 5e5 })).toEqual(done('Work'));
    }
    // 12 × 2.4 MB kept would be far over 16 MB: the isolate was replaced every few calls.
    expect(runtime.stats.restarts).toBe(0);
    expect(runtime.stats.recycles).toBeGreaterThanOrEqual(2);
  });

  it('runs a call that ran out of memory on a used isolate once more, on a fresh one', async () => {
    const { runtime, program } = await leaky();
    // Less than the isolate may keep, so it is not replaced…
    expect(await call(program, 'Retain', { n: 7e5 })).toEqual(done('Retain'));
    expect(runtime.stats.recycles).toBe(0);
    // …and a call that fits a fresh isolate, but not next to what was kept, runs out there first.
    expect(await call(program, 'Work', { n: 2.2e6 })).toEqual(done('Work'));
    expect(runtime.stats.restarts).toBe(1);
  });

  it('charges a call that alone exceeds the limit, and serves the next', async () => {
    const { runtime, program } = await leaky();
    expect(await call(program, 'Work', { n: 1e5 })).toEqual(done('Work'));
    const error = await call(program, 'Hog').then(
      () => new Error('Hog did not fail'),
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(ProgramLimitError);
    expect(error.message).toBe(
      'decide exceeded the memory limit of 16 MB; its isolate is restarted',
    );
    expect(await call(program, 'Work', { n: 1e6 })).toEqual(done('Work'));
    // Out of memory on the used isolate, then again alone on a fresh one: two restarts.
    expect(runtime.stats).toMatchObject({ restarts: 2, compiles: 3 });
  });

  it('does not replace the isolates of a program that keeps nothing', async () => {
    const runtime = new ProgramRuntime({ limits: { memoryMb: 16 } });
    runtimes.push(runtime);
    const program = await runtime.load({ filename: 'leaky.js', code: LEAKY });
    // Some garbage on every call (80 KB), which collections free.
    for (let i = 0; i < 1_000; i++) {
      expect(await call(program, 'Work', { n: 1e4 })).toEqual(done('Work'));
    }
    const together = Array.from({ length: 200 }, () => call(program, 'Work', { n: 1e5 }));
    expect(await Promise.all(together)).toEqual(together.map(() => done('Work')));
    expect(runtime.stats).toMatchObject({ restarts: 0, recycles: 0 });
  });
});
