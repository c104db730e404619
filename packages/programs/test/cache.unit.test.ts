import { UnavailableError } from '@tenantfold/core';
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
  const runtime = () => {
    const made = new ProgramRuntime();
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
    expect(rt.stats).toEqual({ programs: 1, compiles: 1, restarts: 0 });
  });

  it('compiles once for two aggregate types with the same source, loaded concurrently', async () => {
    const rt = runtime();
    const [alpha, beta] = await Promise.all([
      probe(rt, COUNTER, { type: 'alpha', apply: '' }),
      probe(rt, COUNTER, { type: 'beta', apply: '' }),
    ]);
    expect(rt.stats).toEqual({ programs: 1, compiles: 1, restarts: 0 });
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
    expect(rt.stats).toEqual({ programs: 1, compiles: 1, restarts: 0 });
  });

  it('compiles different sources, and a different memory limit, separately', async () => {
    const rt = runtime();
    await rt.load({ filename: 'a.js', code: COUNTER });
    await rt.load({ filename: 'b.js', code: `${COUNTER}\n// another revision` });
    await rt.load({ filename: 'a.js', code: COUNTER }, { memoryMb: 16 });
    expect(rt.stats).toEqual({ programs: 3, compiles: 3, restarts: 0 });
  });

  it('refuses loads and calls once disposed', async () => {
    const rt = runtime();
    const program = await rt.load({ filename: 'a.js', code: COUNTER });
    rt.dispose();
    await expect(rt.load({ filename: 'a.js', code: COUNTER })).rejects.toThrow(UnavailableError);
    await expect(program.call('initialState', [], { cpuMs: 50 })).rejects.toThrow(UnavailableError);
  });

  it('does not keep a program that failed to load', async () => {
    const rt = runtime();
    await expect(rt.load({ filename: 'bad.js', code: 'function (' })).rejects.toThrow(/bad\.js/);
    expect(rt.stats.programs).toBe(0);
  });
});
