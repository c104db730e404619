import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JsonValue, StoredCommit } from '@tenantfold/core';
import { UnavailableError, ValidationError } from '@tenantfold/core';
import type { StateChange } from '../src/index.js';
import { MAX_PAGE_BYTES, ReadModel } from '../src/index.js';
import { BATCH_BYTES } from '../src/readModel/batches.js';

let dir: string;
const open: ReadModel[] = [];

function openModel(name = 'state.db', indexes = { account: ['balance', 'status', 'owner.name'] }) {
  const model = ReadModel.open({
    path: join(dir, name),
    indexes,
    cursorSecret: 'a shared test secret',
  });
  open.push(model);
  return model;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tenantfold-query-'));
});
afterEach(async () => {
  for (const model of open.splice(0)) model.close();
  await rm(dir, { recursive: true, force: true });
});

let position = 0;
function account(tenant: string, id: string, state: JsonValue, version = 1): StateChange {
  return {
    tenant,
    type: 'account',
    id,
    version,
    state,
    updated_at: new Date().toISOString(),
    position: ++position,
  };
}

const ids = (page: { rows: readonly { id: string }[] }) => page.rows.map((r) => r.id);

describe('queries', () => {
  it('finds the account tenant-a deposited 100 into with balance > 50', () => {
    const model = openModel();
    model.apply([account('tenant-a', 'acc-1', { status: 'open', balance: 100 })]);
    const page = model.query('tenant-a', 'account', { filter: 'balance > 50' });
    expect(page.rows).toMatchObject([{ id: 'acc-1', version: 1, state: { balance: 100 } }]);
    expect(page.nextCursor).toBeUndefined();
  });

  it('scopes every query to its tenant, whatever the filter says', () => {
    const model = openModel();
    model.apply([
      account('tenant-a', 'acc-1', { balance: 100, tenant: 'tenant-b' }),
      account('tenant-b', 'acc-1', { balance: 200 }),
    ]);
    expect(model.query('tenant-a', 'account', { filter: 'balance > 50' }).rows).toMatchObject([
      { id: 'acc-1', state: { balance: 100 } },
    ]);
    expect(model.query('tenant-b', 'account', { filter: 'balance > 50' }).rows).toMatchObject([
      { id: 'acc-1', state: { balance: 200 } },
    ]);
    for (const filter of [
      'tenant = "tenant-b"',
      'not (id = "x") or id = "x"',
      `id = "' OR 1=1 --"`,
    ]) {
      for (const row of model.query('tenant-a', 'account', { filter }).rows) {
        expect(row.state).toMatchObject({ balance: 100 });
      }
    }
    expect(model.query('tenant-a', 'other', {}).rows).toEqual([]);
  });

  it('survives injection strings as values and keeps its tables', () => {
    const model = openModel();
    model.apply([account('t', 'a1', { name: `'; DROP TABLE aggregates; --` })]);
    for (const filter of [
      `name = "'; DROP TABLE aggregates; --"`,
      `name starts_with "'; DROP"`,
      `name in ["x\\") OR 1=1 --", "'; DROP TABLE aggregates; --"]`,
    ]) {
      expect(ids(model.query('t', 'account', { filter }))).toEqual(['a1']);
    }
    expect(ids(model.query('t', 'account', { filter: `name = "' OR '1'='1"` }))).toEqual([]);
    expect(model.get('t', 'account', 'a1')).toBeDefined();
  });

  it('uses the declared expression indexes and scans what is not indexed', () => {
    const model = openModel();
    const statuses = ['open', 'closed', 'frozen', 'new'];
    model.apply(
      Array.from({ length: 2000 }, (_, i) =>
        account('t', `a${i}`, {
          balance: i,
          status: statuses[i % 4]!,
          owner: { name: `n${i}` },
          nickname: `k${i}`,
        }),
      ),
    );
    model.analyze();
    const plan = (filter: string, sort?: string) =>
      model.explain('t', 'account', { filter, ...(sort === undefined ? {} : { sort }) }).join('\n');
    const seek = (op: string) =>
      new RegExp(`USING INDEX state_ix_\\w+ \\(tenant=\\? AND type=\\? AND <expr>${op}\\?\\)`);
    expect(plan('balance > 1990', '-balance')).toMatch(seek('>'));
    expect(plan('owner.name = "n7"')).toMatch(seek('='));
    expect(plan('nickname = "k7"')).not.toMatch(/state_ix_/);

    expect(model.setIndexes({ account: ['balance', 'nickname'] })).toMatchObject({
      created: ['nickname'],
    });
    expect(plan('nickname = "k7"')).toMatch(seek('='));
    expect(plan('owner.name = "n7"')).not.toMatch(/state_ix_/);
    expect(() => model.setIndexes({ account: ['a-b'] })).toThrow(ValidationError);
  });

  it('caps the limit and says so; refuses a limit that is not a positive integer', () => {
    const model = openModel();
    model.apply(Array.from({ length: 5 }, (_, i) => account('t', `a${i}`, { n: i })));
    const capped = model.query('t', 'account', { limit: 5000 });
    expect(capped).toMatchObject({ limit: 1000, limitCapped: true });
    expect(capped.rows).toHaveLength(5);
    expect(model.query('t', 'account', { limit: 2 })).toMatchObject({
      limit: 2,
      limitCapped: false,
    });
    expect(model.query('t', 'account')).toMatchObject({ limit: 100, limitCapped: false });
    for (const limit of [0, -1, 1.5, '10' as unknown as number]) {
      expect(() => model.query('t', 'account', { limit })).toThrow(
        /limit must be a positive integer/,
      );
    }
  });

  it('refuses bad tenant ids, types and filters with ValidationError', () => {
    const model = openModel();
    expect(() => model.query('bad tenant!', 'account')).toThrow(ValidationError);
    expect(() => model.query('t', 'Account')).toThrow(ValidationError);
    expect(() => model.query('t', 'account', { filter: 'balance >' })).toThrow(/column 10/);
    const untyped = (value: unknown) => value as string;
    expect(() => model.query('t', 'account', { filter: untyped(42) })).toThrow(
      /filter must be a string/,
    );
    expect(() => model.query('t', 'account', { sort: untyped(42) })).toThrow(
      /sort must be a string/,
    );
  });
});

describe('pages and cursors', () => {
  // Mixed and missing values: SQLite orders NULL (missing) first, then
  // numbers, then text; a descending sort puts the missing values last.
  const balances: (JsonValue | undefined)[] = [
    5,
    3,
    undefined,
    3,
    'x',
    7,
    null,
    3,
    1,
    undefined,
    true,
    9,
    'a',
  ];

  it.each(['-balance', 'balance', '-balance,-id', 'balance,id', '-version,balance', '-id'])(
    'pages through sort %s in the order of one big page, each row once',
    (sort) => {
      const model = openModel();
      model.apply(
        balances.map((balance, i) =>
          account(
            't',
            `a${String(i).padStart(2, '0')}`,
            balance === undefined ? {} : { balance },
            1 + (i % 3),
          ),
        ),
      );
      const all = ids(model.query('t', 'account', { sort, limit: 100 }));
      expect(all).toHaveLength(balances.length);
      const paged: string[] = [];
      let cursor: string | undefined;
      do {
        const page = model.query('t', 'account', { sort, limit: 3, ...(cursor ? { cursor } : {}) });
        paged.push(...ids(page));
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      expect(paged).toEqual(all);
    },
  );

  it('puts missing values first ascending and last descending', () => {
    const model = openModel();
    model.apply([
      account('t', 'a', { balance: 2 }),
      account('t', 'b', {}),
      account('t', 'c', { balance: 1 }),
    ]);
    expect(ids(model.query('t', 'account', { sort: 'balance' }))).toEqual(['b', 'c', 'a']);
    expect(ids(model.query('t', 'account', { sort: '-balance' }))).toEqual(['a', 'c', 'b']);
  });

  it('refuses a forged cursor, and one from another tenant, type, filter or sort', () => {
    const model = openModel();
    for (const tenant of ['t', 'u']) {
      model.apply(Array.from({ length: 4 }, (_, i) => account(tenant, `a${i}`, { balance: i })));
    }
    const query = { filter: 'balance >= 0', sort: '-balance', limit: 2 };
    const cursor = model.query('t', 'account', query).nextCursor!;
    expect(ids(model.query('t', 'account', { ...query, cursor }))).toEqual(['a1', 'a0']);

    const [body, mac] = cursor.split('.') as [string, string];
    const forgedBody = Buffer.from(JSON.stringify([[100], 'a9'])).toString('base64url');
    const forged = [
      `${forgedBody}.${mac}`,
      `${body}.${mac.slice(0, -2)}AA`,
      'not a cursor',
      `${body}.${mac}.x`,
      '',
    ];
    for (const bad of forged) {
      expect(() => model.query('t', 'account', { ...query, cursor: bad }), bad).toThrow(
        /invalid cursor/,
      );
    }
    const foreign = [
      () => model.query('u', 'account', { ...query, cursor }),
      () => model.query('t', 'other', { ...query, cursor }),
      () => model.query('t', 'account', { ...query, filter: 'balance >= 1', cursor }),
      () => model.query('t', 'account', { ...query, sort: 'balance', cursor }),
    ];
    for (const run of foreign) {
      expect(run).toThrow(ValidationError);
      expect(run).toThrow(/only valid for the tenant, type, filter and sort/);
    }
    // The same filter written differently is the same query.
    expect(ids(model.query('t', 'account', { ...query, filter: '(balance>=0)', cursor }))).toEqual([
      'a1',
      'a0',
    ]);
  });

  it('ends a page early when its states pass MAX_PAGE_BYTES, and the cursor goes on from there', () => {
    const model = openModel();
    const big = 'x'.repeat(MAX_PAGE_BYTES / 4); // four of them fill a page
    model.apply(Array.from({ length: 10 }, (_, i) => account('t', `a${i}`, { big, i })));
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = model.query('t', 'account', { limit: 100, ...(cursor ? { cursor } : {}) });
      const bytes = page.rows.reduce((sum, row) => sum + JSON.stringify(row.state).length, 0);
      expect(page.rows.length).toBeGreaterThan(0);
      expect(bytes).toBeLessThanOrEqual(MAX_PAGE_BYTES);
      seen.push(...ids(page));
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => `a${i}`));
    // One row larger than a page still comes, alone.
    model.apply([account('u', 'huge', { big: 'y'.repeat(MAX_PAGE_BYTES + 1) })]);
    expect(ids(model.query('u', 'account'))).toEqual(['huge']);
  });

  it('accepts cursors across read models that share the secret', () => {
    const first = openModel('one.db');
    const second = openModel('two.db');
    const changes = Array.from({ length: 4 }, (_, i) => account('t', `a${i}`, { balance: i }));
    first.apply(changes);
    second.apply(changes);
    const cursor = first.query('t', 'account', { limit: 2 }).nextCursor!;
    expect(ids(second.query('t', 'account', { limit: 2, cursor }))).toEqual(['a2', 'a3']);
    const stranger = ReadModel.open({ path: ':memory:' });
    open.push(stranger);
    stranger.apply(changes);
    expect(() => stranger.query('t', 'account', { limit: 2, cursor })).toThrow(/invalid cursor/);
  });
});

describe('applying commits', () => {
  it('catches up and rebuilds in batches bounded by the heap their states hold', async () => {
    const model = openModel();
    const rows = () => model.tenants().find((t) => t.tenant === 't')?.rows ?? 0;
    // ~6.4 MB of heap each once parsed, from 300 KB of JSON: three fill a batch.
    const swollen = () => ({ items: Array.from({ length: 100_000 }, () => ({})) });
    let largestBatch = 0;
    function* changes(): Generator<StateChange> {
      for (let i = 0; i < 8; i++) {
        largestBatch = Math.max(largestBatch, i - rows()); // made, not yet written
        yield account('t', `s${i}`, swollen(), 1 + i);
      }
    }
    let announced = 0;
    expect(await model.applyAll(changes(), () => announced++)).toBe(8);
    expect(announced).toBe(8);
    expect(largestBatch).toBeLessThanOrEqual(Math.ceil(BATCH_BYTES / 6_400_000));
    largestBatch = 0;
    model.dropTenant('t');
    expect(await model.rebuild(changes(), { tenant: 't' })).toEqual({ rows: 8 });
    expect(largestBatch).toBeLessThanOrEqual(Math.ceil(BATCH_BYTES / 6_400_000));
  });

  it('skips a replayed or older version, and returns the row each change replaced', () => {
    const model = openModel();
    const first = account('t', 'a', { balance: 1 }, 1);
    const created = model.apply([first]);
    expect(created).toMatchObject([
      { tenant: 't', type: 'account', after: { id: 'a', version: 1 } },
    ]);
    expect(created[0]?.before).toBeUndefined();
    const second = account('t', 'a', { balance: 2 }, 2);
    const [applied] = model.apply([second]);
    expect(applied?.before).toMatchObject({ version: 1, state: { balance: 1 } });
    expect(applied?.after).toMatchObject({ version: 2, state: { balance: 2 } });
    expect(model.apply([first, second])).toEqual([]);
    expect(model.get('t', 'account', 'a')).toMatchObject({ version: 2, state: { balance: 2 } });
  });

  it('takes a core commit with the state the engine evolved', () => {
    const model = openModel();
    const commit = {
      command_id: '0193a8a4-0000-7000-8000-000000000001',
      stream: { tenant: 't', type: 'account', id: 'a' },
      version: 3,
      events: [],
      timestamp: '2026-11-23T10:00:00.000Z',
      position: 41,
    } as unknown as StoredCommit;
    model.applyCommit(commit, { balance: 7 });
    expect(model.get('t', 'account', 'a')).toEqual({
      id: 'a',
      version: 3,
      updated_at: '2026-11-23T10:00:00.000Z',
      position: 41,
      state: { balance: 7 },
    });
    expect(model.position('t')).toBe(41);
  });

  it('rolls back a batch with a bad change: rows and checkpoint together', () => {
    const model = openModel();
    expect(() =>
      model.apply([account('t', 'a', { n: 1 }), { ...account('t', 'b', {}), id: 'no spaces' }]),
    ).toThrow(ValidationError);
    expect(model.get('t', 'account', 'a')).toBeUndefined();
    expect(model.position('t')).toBe(0);
  });

  it('resolves waitForPosition once the tenant reaches the position, and times out otherwise', async () => {
    const model = openModel();
    const change = account('t', 'a', { n: 1 });
    const waiting = model.waitForPosition('t', change.position, 5_000);
    const otherTenant = model.waitForPosition('u', change.position, 50);
    model.apply([change]);
    await expect(waiting).resolves.toBeUndefined();
    await expect(model.waitForPosition('t', change.position, 1)).resolves.toBeUndefined();
    const error = await otherTenant.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as Error).message).toMatch(
      /tenant 'u' is at position 0; position \d+ was not reached within 50 ms/,
    );
    expect(() => model.waitForPosition('t', -1, 10)).toThrow(ValidationError);
  });

  it('drops one tenant, rows and checkpoint, leaving the others', () => {
    const model = openModel();
    model.apply([account('t', 'a', {}), account('t', 'b', {}), account('u', 'a', {})]);
    expect(model.dropTenant('t')).toBe(2);
    expect(model.tenants()).toEqual([{ tenant: 'u', rows: 1, position: model.position('u') }]);
    expect(model.position('t')).toBe(0);
    expect(model.query('t', 'account').rows).toEqual([]);
  });

  it('gives equal digests for equal rows, whatever the order they came in', () => {
    const changes = [account('t', 'a', { x: 1, y: 2 }), account('t', 'b', { z: [1] })];
    const one = openModel('one.db');
    const two = openModel('two.db');
    one.apply(changes);
    two.apply([changes[1]!, { ...changes[0]!, state: { y: 2, x: 1 } }]);
    expect(one.digest('t')).toBe(two.digest('t'));
    two.apply([account('t', 'a', { x: 1, y: 3 }, 2)]);
    expect(one.digest('t')).not.toBe(two.digest('t'));
  });
});

describe('the database file', () => {
  const seed = () => Array.from({ length: 50 }, (_, i) => account('t', `a${i}`, { balance: i }));

  it('keeps rows and checkpoints across a reopen', () => {
    const first = openModel();
    expect(first.opened).toEqual({ status: 'created', needsRebuild: true });
    first.apply(seed());
    const at = first.position('t');
    first.close();
    const again = openModel();
    expect(again.opened).toEqual({ status: 'existing', needsRebuild: false });
    expect(again.position('t')).toBe(at);
    expect(again.query('t', 'account', { filter: 'balance >= 40' }).rows).toHaveLength(10);
  });

  it.each([
    [
      'garbage',
      async (path: string) => writeFile(path, 'this is not a database at all'.repeat(200)),
    ],
    ['truncated', async (path: string) => truncate(path, 2048)],
    [
      'a page overwritten',
      async (path: string) => {
        const bytes = await readFile(path);
        bytes.fill(0xa5, 4096, 8192);
        await writeFile(path, bytes);
      },
    ],
  ])('moves a %s file aside and starts empty, to be rebuilt', async (_kind, damage) => {
    const first = openModel();
    first.apply(seed());
    first.close();
    const path = join(dir, 'state.db');
    await damage(path);
    const again = openModel();
    expect(again.opened).toMatchObject({ status: 'recovered', needsRebuild: true });
    expect(again.opened.reason).toBeTruthy();
    expect(existsSync(again.opened.movedTo!)).toBe(true);
    expect(again.query('t', 'account').rows).toEqual([]);
    await again.rebuild(seed());
    expect(again.query('t', 'account', { filter: 'balance >= 40' }).rows).toHaveLength(10);
  });

  it('rebuilds one tenant, and flags a rebuild that did not finish', async () => {
    const first = openModel();
    first.apply([...seed(), account('u', 'keep', {})]);
    await first.rebuild([account('t', 'only', { balance: 1 })], { tenant: 't' });
    expect(ids(first.query('t', 'account'))).toEqual(['only']);
    expect(ids(first.query('u', 'account'))).toEqual(['keep']);

    async function* failing() {
      yield account('t', 'x', {});
      await Promise.resolve();
      throw new Error('event log went away');
    }
    await expect(first.rebuild(failing(), { tenant: 't' })).rejects.toThrow('event log went away');
    await expect(first.rebuild([account('u', 'y', {})], { tenant: 't' })).rejects.toThrow(
      /was given a change of tenant 'u'/,
    );
    first.close();
    const again = openModel();
    expect(again.opened).toMatchObject({ status: 'recovered', needsRebuild: true });
    expect(again.opened.reason).toMatch(/rebuild \(tenant 't'\) did not finish/);
  });

  it('refuses a bad index path before touching the file', () => {
    const path = join(dir, 'never.db');
    expect(() => ReadModel.open({ path, indexes: { account: ['owner name'] } })).toThrow(
      /query.indexes: "owner name" is not a dotted path/,
    );
    expect(existsSync(path)).toBe(false);
  });

  it('refuses to work once closed', async () => {
    const model = openModel();
    const waiting = model.waitForPosition('t', 99, 10_000);
    model.close();
    await expect(waiting).rejects.toThrow(UnavailableError);
    expect(() => model.query('t', 'account')).toThrow(/closed/);
  });
});

describe('read-your-writes with commits applied out of order', () => {
  it('holds the visible position below an announced commit until it is applied', async () => {
    const model = openModel();
    const early = account('t', 'a', { n: 1 }); // appended first...
    const late = account('t', 'b', { n: 2 }); // ...applied first
    model.announce('t', early.position);
    model.announce('t', late.position);
    let earlyVisible = false;
    const waiting = model.waitForPosition('t', early.position, 5_000).then(() => {
      earlyVisible = model.get('t', 'account', 'a') !== undefined;
    });
    model.apply([late]);
    expect(model.position('t')).toBe(early.position - 1);
    expect(model.query('t', 'account').position).toBe(early.position - 1);
    model.apply([early]);
    await waiting;
    expect(earlyVisible).toBe(true);
    expect(model.position('t')).toBe(late.position);
  });

  it('stores a checkpoint below a commit announced but not applied (a crash re-reads it)', () => {
    const model = openModel();
    const early = account('t', 'a', { n: 1 });
    const late = account('t', 'b', { n: 2 });
    model.announce('t', early.position);
    model.apply([late]);
    model.close(); // the process dies before `early` is applied
    const reopened = openModel();
    expect(reopened.position('t')).toBe(early.position - 1);
    reopened.apply([early, late]); // the catch-up from the checkpoint
    expect(reopened.position('t')).toBe(late.position);
    expect(reopened.query('t', 'account').rows.map((row) => row.id)).toEqual(['a', 'b']);
  });

  it('lets go of a withdrawn announcement', async () => {
    const model = openModel();
    const applied = account('t', 'a', {});
    const withdraw = model.announce('t', applied.position - 1);
    model.apply([applied]);
    const waiting = model.waitForPosition('t', applied.position, 5_000);
    expect(model.position('t')).toBe(applied.position - 2);
    withdraw();
    await expect(waiting).resolves.toBeUndefined();
    expect(model.position('t')).toBe(applied.position);
  });
});
