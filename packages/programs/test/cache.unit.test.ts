import { ProgramLimitError, UnavailableError, ValidationError } from '@tenantfold/core';
import { ProgramRuntime, loadManifest, loadProgramDeciders } from '@tenantfold/programs';
import { afterEach, describe, expect, it } from 'vitest';
import { TempDirs, probe } from './helpers.js';

const COUNTER = `
function decide(state, command) { return { type: 'Added', data: { n: command.data.n } }; }
function evolve(state, event) { return { total: state.total + event.data.n }; }
function initialState() { return { total: 0 }; }
`;

describe('compiled once, cached by content hash', () => {
  const dirs = new TempDirs();
  const runtimes: ProgramRuntime[] = [];
  // One isolate per program, so `compiles` counts programs compiled: with a
  // larger pool, concurrent calls may start (and compile into) more isolates,
  // which the pool tests below check.
  const runtime = (options: ConstructorParameters<typeof ProgramRuntime>[0] = { isolates: 1 }) => {
    const made = new ProgramRuntime(options);
    runtimes.push(made);
    return made;
  };
  afterEach(async () => {
    for (const made of runtimes.splice(0)) made.dispose();
    await dirs.cleanup();
  });

  it('returns the same program for the same source under another name', async () => {
    const rt = runtime();
    const a = await rt.load({ filename: 'a.js', code: COUNTER });
    const b = await rt.load({ filename: 'b.js', code: COUNTER });
    expect(b).toBe(a);
    expect(a.functions).toEqual(new Set(['decide', 'evolve', 'initialState']));
    expect(rt.stats).toEqual({ programs: 1, compiles: 1, restarts: 0, recycles: 0 });
  });

  it('compiles once for two aggregate types with the same source, loaded concurrently', async () => {
    const rt = runtime();
    const [alpha, beta] = await Promise.all([
      probe(rt, COUNTER, { type: 'alpha', apply: '' }),
      probe(rt, COUNTER, { type: 'beta', apply: '' }),
    ]);
    expect(rt.stats).toEqual({ programs: 1, compiles: 1, restarts: 0, recycles: 0 });
    expect(await alpha.decide({ total: 0 }, { type: 'Add', data: { n: 2 } })).toEqual([
      { type: 'Added', data: { n: 2 } },
    ]);
    expect(await beta.evolve({ total: 1 }, { type: 'Added', data: { n: 2 } })).toEqual({
      total: 3,
    });
  });

  it('compiles a manifest whose types share one file, and a copy of it, once', async () => {
    const dir = await dirs.with({
      'counter.js': COUNTER,
      'copy.js': COUNTER,
      'aggregates.yaml': [
        'aggregates:',
        '  alpha: { decide: ./counter.js, apply: ./counter.js }',
        '  beta: { decide: ./copy.js, apply: ./counter.js }',
      ].join('\n'),
    });
    const rt = runtime();
    const deciders = await loadProgramDeciders(await loadManifest(`${dir}/aggregates.yaml`), {
      runtime: rt,
    });
    expect(deciders.map((d) => d.type)).toEqual(['alpha', 'beta']);
    expect(rt.stats).toEqual({ programs: 1, compiles: 1, restarts: 0, recycles: 0 });
  });

  it('compiles different sources, and a different memory limit, separately', async () => {
    const rt = runtime();
    await rt.load({ filename: 'a.js', code: COUNTER });
    await rt.load({ filename: 'b.js', code: `${COUNTER}\n// another revision` });
    await rt.load({ filename: 'a.js', code: COUNTER }, { memoryMb: 16 });
    expect(rt.stats).toEqual({ programs: 3, compiles: 3, restarts: 0, recycles: 0 });
  });

  it('refuses loads and calls once disposed', async () => {
    const rt = runtime();
    const program = await rt.load({ filename: 'a.js', code: COUNTER });
    rt.dispose();
    await expect(rt.load({ filename: 'a.js', code: COUNTER })).rejects.toThrow(UnavailableError);
    await expect(program.call('initialState', [], { cpuMs: 50 })).rejects.toThrow(UnavailableError);
  });

  it('runs concurrent calls on a pool of at most `isolates` isolates, one compile each', async () => {
    const rt = runtime({ isolates: 3 });
    const program = await rt.load({ filename: 'a.js', code: COUNTER });
    expect(rt.stats).toEqual({ programs: 1, compiles: 1, restarts: 0, recycles: 0 });
    await program.call('initialState', [], { cpuMs: 50 });
    await program.call('initialState', [], { cpuMs: 50 });
    expect(rt.stats.compiles).toBe(1); // one at a time: no second isolate
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, n) =>
        program.call('evolve', [{ total: n }, { data: { n: 1 } }], { cpuMs: 1_000 }),
      ),
    );
    expect(results).toEqual(
      Array.from({ length: 20 }, (_, n) => ({ kind: 'returned', json: `{"total":${n + 1}}` })),
    );
    expect(rt.stats).toEqual({ programs: 1, compiles: 3, restarts: 0, recycles: 0 });
  });

  it('restarts only the isolate whose call blew the memory limit', async () => {
    const rt = runtime({ isolates: 2, limits: { memoryMb: 16 } });
    const code = `
      let seen = 0;
      function decide(state, command) {
        seen++;
        if (command.type === 'Hog') { const a = []; for (;;) a.push(new Array(1e6).fill(1)); }
        let x = 0;
        for (let i = 0; i < 2e6; i++) x += i;
        return { type: 'Seen', data: { seen, x } };
      }
    `;
    const program = await rt.load({ filename: 'hog.js', code });
    const [hog, ok] = await Promise.allSettled([
      program.call('decide', [{}, { type: 'Hog' }], { cpuMs: 5_000 }),
      program.call('decide', [{}, { type: 'Fine' }], { cpuMs: 5_000 }),
    ]);
    expect(hog.status).toBe('rejected');
    expect((hog as PromiseRejectedResult).reason).toBeInstanceOf(ProgramLimitError);
    expect(ok).toEqual({
      status: 'fulfilled',
      value: { kind: 'returned', json: expect.stringContaining('"seen":1') as unknown },
    });
    // The hog ran out of memory on a used isolate, then once more alone on a fresh one there.
    expect(rt.stats).toEqual({ programs: 1, compiles: 3, restarts: 1, recycles: 0 });
    // Sequential calls use the surviving isolate; the blown one restarts only when needed.
    await program.call('decide', [{}, { type: 'Fine' }], { cpuMs: 5_000 });
    expect(rt.stats).toEqual({ programs: 1, compiles: 3, restarts: 1, recycles: 0 });
    await Promise.all([
      program.call('decide', [{}, { type: 'Fine' }], { cpuMs: 5_000 }),
      program.call('decide', [{}, { type: 'Fine' }], { cpuMs: 5_000 }),
    ]);
    expect(rt.stats).toEqual({ programs: 1, compiles: 4, restarts: 2, recycles: 0 });
  });

  it('runs waiting calls together, each on a fresh scope with its own outcome', async () => {
    const rt = runtime({ isolates: 1 });
    const code = `
      let seen = 0;
      function decide(state, command) {
        seen++;
        if (command.type === 'No') reject('no ' + command.data.n);
        if (command.type === 'Bug') return undefined.x;
        return { type: 'Seen', data: { seen, n: command.data.n } };
      }
    `;
    const program = await rt.load({ filename: 'shared.js', code });
    const types = ['Ok', 'No', 'Bug'];
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, n) =>
        program.call('decide', [{}, { type: types[n % 3]!, data: { n } }], { cpuMs: 1_000 }),
      ),
    );
    expect(results).toEqual(
      Array.from({ length: 30 }, (_, n) =>
        n % 3 === 0
          ? { kind: 'returned', json: `{"type":"Seen","data":{"seen":1,"n":${n}}}` }
          : n % 3 === 1
            ? { kind: 'rejected', message: `no ${n}` }
            : { kind: 'failed', name: 'TypeError', message: expect.any(String) as unknown },
      ),
    );
    expect(rt.stats).toEqual({ programs: 1, compiles: 1, restarts: 0, recycles: 0 });
  });

  it('gives the call at fault in a shared crossing its own limit error, the others their results', async () => {
    const rt = runtime({ isolates: 1, limits: { memoryMb: 16 } });
    const code = `
      function decide(state, command) {
        if (command.type === 'Spin') for (;;);
        if (command.type === 'Hog') { const a = []; for (;;) a.push(new Array(1e6).fill(1)); }
        return { type: 'Done', data: { n: command.data.n } };
      }
    `;
    const program = await rt.load({ filename: 'faulty.js', code });
    const call = (type: string, n: number) =>
      program.call('decide', [{}, { type, data: { n } }], { cpuMs: 300 });
    // The first call holds the only isolate, so the rest wait and then share a crossing.
    const settled = await Promise.allSettled([
      call('Fine', 0),
      call('Fine', 1),
      call('Spin', 2),
      call('Fine', 3),
      call('Hog', 4),
      call('Fine', 5),
    ]);
    const messages = settled.map((s) =>
      s.status === 'fulfilled' ? s.value : (s.reason as Error).message,
    );
    expect(messages).toEqual([
      { kind: 'returned', json: '{"type":"Done","data":{"n":0}}' },
      { kind: 'returned', json: '{"type":"Done","data":{"n":1}}' },
      'decide exceeded the CPU limit of 300 ms',
      { kind: 'returned', json: '{"type":"Done","data":{"n":3}}' },
      'decide exceeded the memory limit of 16 MB; its isolate is restarted',
      { kind: 'returned', json: '{"type":"Done","data":{"n":5}}' },
    ]);
    expect(settled[2]).toMatchObject({ reason: expect.any(ProgramLimitError) as unknown });
    expect(settled[4]).toMatchObject({ reason: expect.any(ProgramLimitError) as unknown });
  });

  it('refuses a pool size out of range', () => {
    expect(() => new ProgramRuntime({ isolates: 0 })).toThrow(ValidationError);
    expect(() => new ProgramRuntime({ isolates: 1.5 })).toThrow(ValidationError);
  });

  it('does not keep a program that failed to load', async () => {
    const rt = runtime();
    await expect(rt.load({ filename: 'bad.js', code: 'function (' })).rejects.toThrow(/bad\.js/);
    expect(rt.stats.programs).toBe(0);
  });
});
