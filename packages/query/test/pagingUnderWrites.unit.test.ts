// Keyset pages stay correct while rows change: 10,000 accounts paged through
// `balance > 0` sorted `-balance`, 100 at a time, while a second connection
// (another ReadModel on the same WAL file) changes 50 other accounts between
// pages. Every account that did not change is seen exactly once.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { StateChange } from '../src/index.js';
import { ReadModel } from '../src/index.js';

const ACCOUNTS = 10_000;
let dir: string;
let reader: ReadModel;
let writer: ReadModel;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tenantfold-paging-'));
  const options = {
    path: join(dir, 'state.db'),
    indexes: { account: ['balance'] },
    cursorSecret: 'paging test secret',
  };
  writer = ReadModel.open(options);
  reader = ReadModel.open(options);
});
afterAll(async () => {
  reader.close();
  writer.close();
  await rm(dir, { recursive: true, force: true });
});

it('sees every unchanged account exactly once while others change', () => {
  let seed = 42;
  const random = (n: number) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const versions = new Map<string, number>();
  let position = 0;
  const change = (id: string, balance: number): StateChange => {
    const version = (versions.get(id) ?? 0) + 1;
    versions.set(id, version);
    return {
      tenant: 'paging',
      type: 'account',
      id,
      version,
      state: { balance, owner: id },
      updated_at: new Date().toISOString(),
      position: ++position,
    };
  };
  // Balances from 0 to 499: many ties, so pages split groups of equal balance.
  writer.apply(
    Array.from({ length: ACCOUNTS }, (_, i) =>
      change(`acc-${String(i).padStart(5, '0')}`, random(500)),
    ),
  );
  writer.analyze();
  const changed = new Set<string>();
  const seen = new Map<string, number>();
  let cursor: string | undefined;
  let pages = 0;
  let previousLast: number | undefined;
  do {
    const page = reader.query('paging', 'account', {
      filter: 'balance > 0',
      sort: '-balance',
      limit: 100,
      ...(cursor === undefined ? {} : { cursor }),
    });
    pages++;
    const balances = page.rows.map((row) => (row.state as { balance: number }).balance);
    expect(balances).toEqual([...balances].sort((a, b) => b - a));
    expect(balances.every((b) => b > 0)).toBe(true);
    // Every row of a page comes after the previous page's last row (the cursor).
    if (previousLast !== undefined) {
      expect(balances.every((b) => b <= previousLast!)).toBe(true);
    }
    previousLast = balances.at(-1);
    for (const row of page.rows) seen.set(row.id, (seen.get(row.id) ?? 0) + 1);
    cursor = page.nextCursor;

    // Writes between pages: new balances anywhere (ahead of or behind the
    // cursor, into or out of the filter) and brand-new accounts.
    const batch: StateChange[] = [];
    for (let i = 0; i < 50; i++) {
      const id = `acc-${String(random(ACCOUNTS)).padStart(5, '0')}`;
      changed.add(id);
      batch.push(change(id, random(500)));
    }
    const created = `new-${pages}`;
    changed.add(created);
    batch.push(change(created, 1 + random(499)));
    writer.apply(batch);
  } while (cursor !== undefined);

  const unchanged = [...versions.keys()].filter((id) => !changed.has(id));
  expect(changed.size).toBeGreaterThan(3000); // the writes really touched the set
  let expected = 0;
  for (const id of unchanged) {
    const row = reader.get('paging', 'account', id)!;
    const balance = (row.state as { balance: number }).balance;
    if (balance > 0) {
      expected++;
      expect(seen.get(id), id).toBe(1);
    } else {
      expect(seen.has(id), id).toBe(false);
    }
  }
  expect(expected).toBeGreaterThan(4000);
  expect(pages).toBeGreaterThan(60);
});
