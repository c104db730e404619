import type { AggregateStore } from '@tenantfold/core';
import { AggregateStore as Store, ProgramLimitError } from '@tenantfold/core';
import type { ProgramDecider } from '@tenantfold/programs';
import { ProgramRuntime, loadManifest, loadProgramDeciders } from '@tenantfold/programs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BANK_ACCOUNT_MANIFEST, TempDirs, probe } from './helpers.js';

const ROGUE = `
function decide(state, command) {
  switch (command.type) {
    case 'Spin':
      while (true) {}
    case 'Hog': {
      const a = [];
      for (;;) a.push(new Array(1e6).fill(1));
    }
    default:
      return { type: 'Added', data: { n: command.data.n } };
  }
}
function evolve(state, event) { return { total: state.total + event.data.n }; }
function initialState() { return { total: 0 }; }
`;

describe('CPU and memory limits, through an AggregateStore', () => {
  const dirs = new TempDirs();
  let runtime: ProgramRuntime;
  let store: AggregateStore;
  let rogue: ProgramDecider;
  let account: ProgramDecider;

  beforeEach(async () => {
    runtime = new ProgramRuntime();
    rogue = await probe(runtime, ROGUE, {
      type: 'rogue',
      apply: '',
      // Time budget far above what the Hog needs to fill 16 MB (the limit is wall time:
      // at 250 ms a loaded CI machine turned one memory blow-up into a timeout).
      limits: { cpuMs: 1_000, memoryMb: 16 },
    });
    const [example] = await loadProgramDeciders(await loadManifest(BANK_ACCOUNT_MANIFEST), {
      runtime,
    });
    if (example === undefined) throw new Error('the example manifest has no aggregate');
    account = example;
    store = await Store.builder(await dirs.make())
      .aggregate(rogue)
      .aggregate(account)
      .open();
  });
  afterEach(async () => {
    await store.close();
    runtime.dispose();
    await dirs.cleanup();
  });

  /** Runs a command that must hit a limit, counting event-loop turns meanwhile. */
  async function overLimit(type: 'Spin' | 'Hog'): Promise<{ error: Error; turns: number }> {
    let turns = 0;
    let running = true;
    const turn = () => {
      turns++;
      if (running) setImmediate(turn);
    };
    setImmediate(turn);
    try {
      const error = await store
        .get(rogue, 'r-1')
        .execute({ type, data: {} })
        .then(
          () => new Error(`${type} did not fail`),
          (e: unknown) => e as Error,
        );
      return { error, turns };
    } finally {
      running = false;
    }
  }

  it('stops an endless loop with ProgramLimitError, without blocking the event loop', async () => {
    const r1 = store.get(rogue, 'r-1');
    await r1.execute({ type: 'Add', data: { n: 1 } });

    const { error, turns } = await overLimit('Spin');
    expect(error).toBeInstanceOf(ProgramLimitError);
    expect(error.message).toBe('rogue: probe.js: decide exceeded the CPU limit of 1000 ms');
    expect(turns).toBeGreaterThan(10);

    await r1.execute({ type: 'Add', data: { n: 2 } });
    expect(await r1.snapshot()).toEqual({ state: { total: 3 }, version: 2, position: 2 });
    const acc = store.get(account, 'acc-1');
    await acc.execute({ type: 'Open', data: { owner: 'ann' } });
    await acc.execute({ type: 'Deposit', data: { amount: 10 } });
    expect(await acc.state()).toEqual({ status: 'open', owner: 'ann', balance: 10 });
  });

  it('stops an unbounded allocation with ProgramLimitError and restarts the isolate', async () => {
    const r1 = store.get(rogue, 'r-1');
    await r1.execute({ type: 'Add', data: { n: 1 } });
    const compiles = runtime.stats.compiles;

    const { error } = await overLimit('Hog');
    expect(error).toBeInstanceOf(ProgramLimitError);
    expect(error.message).toBe(
      'rogue: probe.js: decide exceeded the memory limit of 16 MB; its isolate is restarted',
    );

    await r1.execute({ type: 'Add', data: { n: 2 } });
    await store.get(rogue, 'r-2').execute({ type: 'Add', data: { n: 5 } });
    expect(await r1.snapshot()).toEqual({ state: { total: 3 }, version: 2, position: 2 });
    expect(await store.get(rogue, 'r-2').state()).toEqual({ total: 5 });
    // Out of memory on a used isolate, then again alone on a fresh one: two restarts.
    expect(runtime.stats).toMatchObject({ restarts: 2, compiles: compiles + 2 });

    const acc = store.get(account, 'acc-1');
    await acc.execute({ type: 'Open', data: { owner: 'ann' } });
    expect(await acc.state()).toEqual({ status: 'open', owner: 'ann', balance: 0 });
  });

  it('keeps serving after both, again and again', async () => {
    const r1 = store.get(rogue, 'r-1');
    for (let round = 1; round <= 2; round++) {
      expect((await overLimit('Spin')).error).toBeInstanceOf(ProgramLimitError);
      expect((await overLimit('Hog')).error).toBeInstanceOf(ProgramLimitError);
      await r1.execute({ type: 'Add', data: { n: 1 } });
      expect(await r1.snapshot()).toEqual({
        state: { total: round },
        version: round,
        position: round,
      });
    }
    // Each Hog runs out of memory twice: on a used isolate, then alone on a fresh one.
    expect(runtime.stats.restarts).toBe(4);
  });
});
