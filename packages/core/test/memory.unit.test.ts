// Memory budgets over parsed values: JSON bytes are no measure of heap, so the
// live actors are bounded by the heap their states hold, not only by count.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AggregateStore, Decider } from '../src/index.js';
import { AggregateStore as Store, heapFootprint } from '../src/index.js';

describe('heapFootprint', () => {
  it('counts what parsing builds, not the bytes of text', () => {
    const text = `[${Array(100_000).fill('{}').join(',')}]`; // 300 KB of JSON
    expect(heapFootprint(JSON.parse(text))).toBeGreaterThanOrEqual(64 * 100_000);
    expect(heapFootprint('x'.repeat(1_000_000))).toBeGreaterThanOrEqual(1_000_000);
    expect(heapFootprint([1, 2, 3])).toBeLessThan(heapFootprint([1.5, 2.5, 3.5]));
    expect(heapFootprint(null)).toBe(0);
  });

  it('never counts less than V8 holds for objects of keys of their own (a hostile review found 3× less)', () => {
    // Each object has its own hidden class: ~170-210 bytes of heap per object on Node 20.
    const unique: unknown = JSON.parse(
      `[${Array.from({ length: 10_000 }, (_, i) => `{"k${i}":0}`).join(',')}]`,
    );
    expect(heapFootprint(unique)).toBeGreaterThanOrEqual(10_000 * 210);
    const indexed: unknown = JSON.parse(
      `[${Array.from({ length: 10_000 }, (_, i) => `{"${i}":0}`).join(',')}]`,
    );
    expect(heapFootprint(indexed)).toBeGreaterThanOrEqual(10_000 * 210);
    // Objects that share their keys share them: no such cost per object.
    const shared: unknown = JSON.parse(
      `[${Array.from({ length: 10_000 }, () => '{"id":"a","n":1}').join(',')}]`,
    );
    expect(heapFootprint(shared)).toBeLessThan(10_000 * 210);
  });

  it('counts a hidden class per key order (a second hostile review: shuffled keys held ~15× their JSON)', () => {
    const names = Array.from({ length: 16 }, (_, i) => `n${i}`);
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const shuffled = () => {
      const order = [...names];
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      return order;
    };
    const text = JSON.stringify(
      Array.from({ length: 2_000 }, () => Object.fromEntries(shuffled().map((k) => [k, 0]))),
    );
    // Measured on Node 20: ~14.7 bytes of heap per byte of such JSON.
    expect(heapFootprint(JSON.parse(text) as unknown)).toBeGreaterThan(15 * text.length);
  });

  it('walks a value nested 100,000 levels deep and counts a circular one as Infinity', () => {
    const deep: unknown = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`);
    expect(heapFootprint(deep)).toBeGreaterThan(100_000 * 32);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(heapFootprint(cycle)).toBe(Infinity);
  });
});

/** Each `Grow` makes the state `n` empty objects: ~64 n bytes of heap. */
const Swelling: Decider<{ items: object[] }, { type: 'Grow'; data: { n: number } }> = {
  type: 'swelling',
  initialState: () => ({ items: [] }),
  decide: (_state, command) => ({ type: 'Grown', data: { n: command.data.n } }),
  evolve: (_state, event) => ({
    items: Array.from({ length: (event.data as { n: number }).n }, () => ({})),
  }),
};

describe('live actors within a heap budget', () => {
  let dir: string;
  let store: AggregateStore | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tenantfold-memory-'));
  });
  afterEach(async () => {
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const grow = (id: string, n: number) =>
    store!.get(Swelling, id).execute({ type: 'Grow', data: { n } });

  it('passivates the least recently used actors once their states pass maxLiveBytes', async () => {
    const state = heapFootprint({ items: Array.from({ length: 10_000 }, () => ({})) });
    store = await Store.builder(dir)
      .aggregate(Swelling)
      .with({ maxLiveBytes: Math.floor(2.5 * state) })
      .open();
    for (const id of ['a', 'b', 'c', 'd']) await grow(id, 10_000);
    expect(store.liveActors).toBe(2); // c and d: a and b were dropped, oldest first
    expect(store.get(Swelling, 'a').isAlive()).toBe(false);
    expect(store.get(Swelling, 'd').isAlive()).toBe(true);
    // A passivated actor reloads its state from the log.
    expect((await store.get(Swelling, 'a').state()).items).toHaveLength(10_000);
  });

  it('drops an actor that outgrew the budget alone once it is idle', async () => {
    store = await Store.builder(dir)
      .aggregate(Swelling)
      .with({ maxLiveBytes: 100_000, idleTimeoutMs: 60_000 })
      .open();
    await grow('big', 50_000); // ~3.2 MB: over the budget by itself, kept while it runs
    await grow('small', 10);
    expect(store.get(Swelling, 'big').isAlive()).toBe(false);
    expect(store.get(Swelling, 'small').isAlive()).toBe(true);
  });
});
