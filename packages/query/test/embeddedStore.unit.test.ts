import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AggregateStore, Decider, StateChangeNotice } from '@tenantfold/core';
import { AggregateStore as Store, DomainError, UnavailableError } from '@tenantfold/core';
import { sqliteQueryEngine, STORE_READ_MODEL_FILE } from '../src/index.js';

interface AccountState {
  readonly status: 'new' | 'open';
  readonly balance: number;
}
type AccountCommand = { type: 'Deposit' | 'Withdraw'; data: { amount: number } };
type AccountEvent = { type: 'Deposited' | 'Withdrawn'; data: { amount: number } };

const Account: Decider<AccountState, AccountCommand, AccountEvent> = {
  type: 'account',
  initialState: () => ({ status: 'new', balance: 0 }),
  decide: (state, command) => {
    if (command.type === 'Withdraw' && command.data.amount > state.balance)
      throw new DomainError('insufficient funds');
    return {
      type: command.type === 'Deposit' ? 'Deposited' : 'Withdrawn',
      data: { amount: command.data.amount },
    };
  },
  evolve: (state, event) => ({
    status: 'open',
    balance: state.balance + (event.type === 'Deposited' ? 1 : -1) * event.data.amount,
  }),
};

let dir: string;
const stores: AggregateStore[] = [];

async function openStore(): Promise<AggregateStore> {
  const store = await Store.builder(dir)
    .aggregate(Account)
    .queryEngine(sqliteQueryEngine({ indexes: { account: ['balance'] } }))
    .open();
  stores.push(store);
  return store;
}

const deposit = (amount: number): AccountCommand => ({ type: 'Deposit', data: { amount } });

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tenantfold-embedded-query-'));
});
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('store.query', () => {
  it('finds tenant-a\'s account of 100 with "balance > 50"', async () => {
    const store = await openStore();
    await store.get(Account, 'acc-1', { tenant: 'tenant-a' }).execute(deposit(100));
    await store.get(Account, 'acc-2', { tenant: 'tenant-a' }).execute(deposit(20));
    const page = store.query(Account, 'balance > 50', { tenant: 'tenant-a' });
    expect(page.rows.map((row) => [row.id, row.version, row.state.balance])).toEqual([
      ['acc-1', 1, 100],
    ]);
  });

  it('gives each tenant exactly its own account', async () => {
    const store = await openStore();
    await store.get(Account, 'acc-1', { tenant: 'tenant-a' }).execute(deposit(100));
    await store.get(Account, 'acc-1', { tenant: 'tenant-b' }).execute(deposit(200));
    const balances = (tenant: string) =>
      store.query(Account, '', { tenant }).rows.map((row) => [row.id, row.state.balance]);
    expect(balances('tenant-a')).toEqual([['acc-1', 100]]);
    expect(balances('tenant-b')).toEqual([['acc-1', 200]]);
    expect(balances('tenant-c')).toEqual([]);
  });

  it('sorts and pages with a cursor, and refuses a bad filter naming its position', async () => {
    const store = await openStore();
    for (let i = 1; i <= 5; i++) await store.get(Account, `acc-${i}`).execute(deposit(i * 10));
    const first = store.query(Account, 'balance >= 20', { sort: '-balance', limit: 2 });
    expect(first.rows.map((row) => row.id)).toEqual(['acc-5', 'acc-4']);
    const second = store.query(Account, 'balance >= 20', {
      sort: '-balance',
      limit: 2,
      cursor: first.nextCursor,
    });
    expect(second.rows.map((row) => row.id)).toEqual(['acc-3', 'acc-2']);
    expect(() => store.query(Account, 'balance >> 1')).toThrow(/line 1, column 10/);
  });

  it('rebuilds a deleted database and catches up a stale one from the event log', async () => {
    let store = await openStore();
    await store.get(Account, 'acc-1').execute(deposit(70));
    await store.get(Account, 'acc-2').execute(deposit(30));
    await store.close();
    await rm(join(dir, STORE_READ_MODEL_FILE));
    store = await openStore();
    expect(store.query(Account, 'balance > 0').rows.map((row) => row.id)).toEqual([
      'acc-1',
      'acc-2',
    ]);
    await store.close();

    // A commit the read model never saw (written by a store without the engine).
    const plain = await Store.builder(dir).aggregate(Account).open();
    await plain.get(Account, 'acc-2').execute(deposit(50));
    await plain.close();
    store = await openStore();
    const row = store.query(Account, 'balance = 80').rows[0];
    expect([row?.id, row?.version]).toEqual(['acc-2', 2]);
  });

  it('rebuilds a corrupt database', async () => {
    let store = await openStore();
    await store.get(Account, 'acc-1').execute(deposit(70));
    await store.close();
    await writeFile(join(dir, STORE_READ_MODEL_FILE), 'not a database at all '.repeat(200));
    store = await openStore();
    expect(store.query(Account, 'balance = 70').rows.map((row) => row.id)).toEqual(['acc-1']);
  });

  it('says how to enable queries on a store without an engine', async () => {
    const store = await Store.builder(dir).aggregate(Account).open();
    stores.push(store);
    expect(() => store.query(Account, '')).toThrow(UnavailableError);
    expect(() => store.query(Account, '')).toThrow(/builder\.queryEngine/);
  });
});

describe('store.subscribe', () => {
  it('returns the initial set, then entered, updated and left', async () => {
    const store = await openStore();
    await store.get(Account, 'rich').execute(deposit(500));
    await store.get(Account, 'poor').execute(deposit(10));
    const changes: StateChangeNotice<AccountState>[] = [];
    const subscription = store.subscribe(Account, 'balance > 100', (change) =>
      changes.push(change),
    );
    expect(subscription.initial.map((row) => row.id)).toEqual(['rich']);

    const poor = store.get(Account, 'poor');
    await poor.execute(deposit(200)); // 210: enters
    await poor.execute(deposit(5)); // 215: updated
    await poor.execute({ type: 'Withdraw', data: { amount: 200 } }); // 15: leaves
    await store.get(Account, 'other').execute(deposit(1)); // never concerns the set
    await store.get(Account, 'rich', { tenant: 'tenant-x' }).execute(deposit(900)); // other tenant
    expect(changes.map((c) => [c.kind, c.row.id, c.row.version, c.row.state.balance])).toEqual([
      ['entered', 'poor', 2, 210],
      ['updated', 'poor', 3, 215],
      ['left', 'poor', 4, 15],
    ]);

    subscription.close();
    await poor.execute(deposit(500));
    expect(changes).toHaveLength(3);
  });
});
