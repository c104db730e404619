// The poison-inputs cases that apply to the embedded store (a library on a
// local directory): a refused output appends nothing, a store whose log
// already holds a state SQLite refuses opens again, and close() always closes.
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AggregateStore, Decider } from '@tenantfold/core';
import {
  AggregateStore as Store,
  DomainError,
  ProgramLimitError,
  RehydrationError,
  StreamKey,
  TenantId,
} from '@tenantfold/core';
import type { ProgramDecider } from '@tenantfold/programs';
import { ProgramRuntime } from '@tenantfold/programs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hostileDeciders, openHostileStore, poisonedAuditCommit } from './support/hostile.js';

let runtime: ProgramRuntime;
let decider: (type: string) => ProgramDecider;
let dir: string;
const open: AggregateStore[] = [];

beforeAll(async () => {
  runtime = new ProgramRuntime();
  decider = await hostileDeciders(runtime);
});
afterAll(() => runtime.dispose());
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tenantfold-poison-embedded-'));
});
afterEach(async () => {
  for (const store of open.splice(0)) await store.close().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

async function openStore(): Promise<AggregateStore> {
  const store = await openHostileStore(dir, decider);
  open.push(store);
  return store;
}

const hostile = (store: AggregateStore, id: string) =>
  store.get(decider('hostile'), id, { tenant: 'attacker' });

/** Streams the store's directory holds for the tenant (what was appended). */
async function streamsOf(tenant: string, type: string): Promise<string[]> {
  return readdir(join(dir, 'tenants', tenant, 'streams', type)).catch(() => []);
}

describe('the embedded store under hostile programs', () => {
  it('4. refuses 150,000 events from one decide with PROGRAM_LIMIT and writes nothing', async () => {
    const store = await openStore();
    await expect(
      hostile(store, 'flood').execute({ type: 'Flood', data: { n: 150_000 } }),
    ).rejects.toBeInstanceOf(ProgramLimitError);
    expect(await streamsOf('attacker', 'hostile')).toEqual([]);
  });

  it('5. refuses a state nested 6,000 levels deep, and close() and a reopen work', async () => {
    const store = await openStore();
    const error = await hostile(store, 'deep')
      .execute({ type: 'Nest', data: { levels: 6_000 } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProgramLimitError);
    expect((error as Error).message).toMatch(/deeper than the limit of 64 levels/);
    await hostile(store, 'deep').execute({ type: 'Tick', data: {} });
    await store.close();
    const again = await openStore();
    expect((await hostile(again, 'deep').snapshot()).version).toBe(1);
  });

  it.each(['HiddenToJson', 'NaN', 'ToJsonNaN', 'ToJsonUndefined'])(
    '6. refuses %s from decide as the program fault it is, and writes nothing',
    async (name) => {
      const store = await openStore();
      await expect(hostile(store, name).execute({ type: name, data: {} })).rejects.toBeInstanceOf(
        DomainError,
      );
      expect(await streamsOf('attacker', 'hostile')).toEqual([]);
    },
  );

  it('1. reopens a store whose log holds a state SQLite refuses: that aggregate fails alone', async () => {
    const store = await openStore();
    const audit = decider('audit');
    await store
      .get(audit, 'fine', { tenant: 'attacker' })
      .execute({ type: 'Flag', data: { account: 'a', amount: 1, version: 1 } });
    await store.close();
    // What a version without limits committed: a flag whose account nests 1,100 levels.
    const commit = poisonedAuditCommit(StreamKey.of(TenantId.parse('attacker'), 'audit', 'old'));
    const streamDir = join(dir, 'tenants', 'attacker', 'streams', 'audit', 'old');
    await mkdir(streamDir, { recursive: true });
    await writeFile(join(streamDir, 'commits.jsonl'), `${JSON.stringify(commit)}\n`);
    await rm(join(dir, 'read-model.sqlite'), { force: true });

    const reopened = await openStore();
    expect(reopened.query(audit, '', { tenant: 'attacker' }).rows.map((r) => r.id)).toEqual([
      'fine',
    ]);
    await expect(reopened.get(audit, 'old', { tenant: 'attacker' }).state()).rejects.toBeInstanceOf(
      RehydrationError,
    );
  });
});

describe('close()', () => {
  interface Odd {
    readonly n: unknown;
  }
  // A trusted TypeScript decider whose state cannot be written as JSON: its snapshot fails.
  type Empty = Record<string, never>;
  const Odd: Decider<Odd, { type: 'Bump'; data: Empty }, { type: 'Bumped'; data: Empty }> = {
    type: 'odd',
    initialState: () => ({ n: 0n }),
    decide: () => ({ type: 'Bumped', data: {} }),
    evolve: (state) => ({ n: (state.n as bigint) + 1n }),
  };

  it('closes whatever failed before: a failed snapshot still releases the directory', async () => {
    const first = await Store.builder(dir).aggregate(Odd).open();
    await first.get(Odd, 'x').execute({ type: 'Bump', data: {} });
    await first.close(); // the snapshot at close fails; the lock must still go
    const second = await Store.builder(dir).aggregate(Odd).open();
    open.push(second);
    expect((await second.get(Odd, 'x').state()).n).toBe(1n);
  });
});
