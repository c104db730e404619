import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { ClientReadableStream } from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { connect } from '@nats-io/transport-node';
import { StreamKey } from '@tenantfold/core';
import { JetStreamEventLog } from '@tenantfold/nats';
import { decodeNotification, stateSubject } from '@tenantfold/query/live';
import { commitOf } from '@tenantfold/testkit';
import type { NatsConnection } from '@nats-io/transport-node';
import type { AggregateNode } from '@tenantfold/aggregate-node';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { commandClient, queryClient, rejection } from './grpcClient.js';
import {
  admin,
  command,
  deleteStorage,
  isolatedNames,
  readModelPath,
  startNode,
} from './nodeFixture.js';

// QueryService of a whole node: real nats-server, real gRPC, a real SQLite file.
const names = isolatedNames();
const path = readModelPath();
const env = {
  AGGREGATE_READ_MODEL_PATH: path,
  AGGREGATE_QUERY_WAIT_MS: '300',
  AGGREGATE_SUBSCRIPTIONS_PER_TENANT: '2',
};
const SECRET = 'a cursor secret of the test nodes';

let node: AggregateNode;
let nc: NatsConnection;
let commands: ReturnType<typeof commandClient>;
let queries: ReturnType<typeof queryClient>;

async function start(): Promise<void> {
  node = await startNode('query-node', inject('natsUrl'), names, {
    ...env,
    AGGREGATE_QUERY_CURSOR_SECRET: SECRET,
  });
  commands = commandClient(node.grpcPort);
  queries = queryClient(node.grpcPort);
}

async function stop(): Promise<void> {
  commands.close();
  queries.close();
  await node.stop();
}

beforeAll(async () => {
  nc = await connect({ servers: inject('natsUrl') });
  await start();
});

afterAll(async () => {
  await stop();
  await deleteStorage(nc, names);
  await nc.close();
});

const as = (tenant: string) => ({ 'x-tenant-id': tenant });

/** Opens an account with `balance`; resolves to the last command's consistency token. */
async function account(tenant: string, id: string, balance: number): Promise<number> {
  await commands.submit(command(id, 'Open', { owner: `owner of ${id}` }), as(tenant));
  const deposited = await commands.submit(command(id, 'Deposit', { amount: balance }), as(tenant));
  return deposited.consistency_token as number;
}

interface Row {
  aggregate_id: string;
  version: number;
  state_json: string;
}
const balanceOf = (json: unknown) => (JSON.parse(json as string) as { balance: number }).balance;
const balances = (rows: unknown) =>
  (rows as Row[]).map((row) => [row.aggregate_id, balanceOf(row.state_json)]);

/** Opens an account with `balance` by writing its commit straight into JetStream; resolves to its position. */
async function writeElsewhere(tenant: string, id: string, balance: number): Promise<number> {
  const log = await JetStreamEventLog.open({
    nc,
    streamName: names.storage.streamName,
    subjectPrefix: names.storage.subjectPrefix,
  });
  const opened = commitOf(StreamKey.of(tenant, 'account', id), 2, { count: 2 });
  const [open, deposit] = opened.events;
  const stored = await log.append(
    {
      ...opened,
      events: [
        { ...open!, event_type: 'Opened', payload: { owner: 'elsewhere' } },
        { ...deposit!, event_type: 'Deposited', payload: { amount: balance } },
      ],
    },
    0,
  );
  return stored.commit.position;
}

const query = (tenant: string, request: Record<string, unknown>) =>
  queries.query({ aggregate_type: 'account', ...request }, as(tenant));

describe('QueryService', () => {
  it('finds tenant-a\'s deposit of 100 with "balance > 50", and each tenant only its own', async () => {
    const tokenA = await account('q-tenant-a', 'acc-1', 100);
    const tokenB = await account('q-tenant-b', 'acc-1', 200);
    const a = await query('q-tenant-a', { filter: 'balance > 50', consistency_token: tokenA });
    expect(balances(a.rows)).toEqual([['acc-1', 100]]);
    const b = await query('q-tenant-b', { filter: '', consistency_token: tokenB });
    expect(balances(b.rows)).toEqual([['acc-1', 200]]);
    // A body tenant that is not the caller's is refused, not answered.
    const error = await rejection(
      queries.query({ tenant_id: 'q-tenant-b', aggregate_type: 'account' }, as('q-tenant-a')),
    );
    expect(error.code).toBe(status.PERMISSION_DENIED);
  });

  it('pages a sorted filter with cursors: every match once, in order', async () => {
    let token = 0;
    for (let i = 1; i <= 25; i++) token = await account('q-pages', `acc-${i}`, i * 10);
    const seen: [string, number][] = [];
    let cursor = '';
    let pages = 0;
    do {
      const page = await query('q-pages', {
        filter: 'balance >= 30 and status = "open"',
        sort: '-balance',
        limit: 10,
        cursor,
        consistency_token: token,
      });
      seen.push(...(balances(page.rows) as [string, number][]));
      cursor = page.next_cursor as string;
      pages++;
    } while (cursor !== '');
    expect(pages).toBe(3);
    expect(seen).toEqual(
      Array.from({ length: 23 }, (_, i) => [`acc-${25 - i}`, (25 - i) * 10] as [string, number]),
    );
    const capped = await query('q-pages', { limit: 5000 });
    expect([capped.limit, capped.limit_capped]).toEqual([1000, true]);
  });

  it('reads its own write with the consistency token, and says when the token is not reached', async () => {
    await account('q-ryw', 'acc-1', 10);
    for (let round = 1; round <= 20; round++) {
      const result = await commands.submit(command('acc-1', 'Deposit', { amount: 1 }), as('q-ryw'));
      const page = await query('q-ryw', {
        filter: `balance = ${10 + round}`,
        consistency_token: result.consistency_token,
      });
      expect(balances(page.rows)).toEqual([['acc-1', 10 + round]]);
    }
    const error = await rejection(query('q-ryw', { consistency_token: 10_000_000 }));
    expect(error.code).toBe(status.UNAVAILABLE);
    expect(error.details).toMatch(/10000000/);
  });

  it('refuses a bad filter naming the position, a forged cursor, and an unknown type', async () => {
    await account('q-bad', 'acc-1', 10);
    const filter = await rejection(query('q-bad', { filter: 'balance >> 5' }));
    expect(filter.code).toBe(status.INVALID_ARGUMENT);
    expect(filter.details).toMatch(/line 1, column 10/);

    const first = await query('q-bad', { limit: 1 });
    expect(first.next_cursor).toBe(''); // one account: no further page
    await account('q-bad', 'acc-2', 20);
    const page = await query('q-bad', { limit: 1 });
    const forged = `${(page.next_cursor as string).slice(0, -4)}AAAA`;
    const cursor = await rejection(query('q-bad', { limit: 1, cursor: forged }));
    expect(cursor.code).toBe(status.INVALID_ARGUMENT);
    expect(cursor.details).toMatch(/cursor/);
    // A cursor of another query (other filter) is foreign to this one.
    const foreign = await rejection(
      query('q-bad', { limit: 1, filter: 'balance > 0', cursor: page.next_cursor }),
    );
    expect(foreign.code).toBe(status.INVALID_ARGUMENT);

    const injection = await query('q-bad', { filter: `status = "x' OR 1=1 --"` });
    expect(injection.rows).toEqual([]);
    const type = await rejection(queries.query({ aggregate_type: 'nope' }, as('q-bad')));
    expect(type.code).toBe(status.INVALID_ARGUMENT);
    expect(type.details).toMatch(/unknown aggregate_type 'nope'/);
  });

  it('streams the initial set, then entered, updated and left', async () => {
    await account('q-live', 'rich', 500);
    const poorToken = await account('q-live', 'poor', 10);
    const changes: Record<string, unknown>[] = [];
    const stream: ClientReadableStream<Record<string, unknown>> = queries.subscribe(
      { aggregate_type: 'account', filter: 'balance > 100', consistency_token: poorToken },
      as('q-live'),
    );
    const ended = new Promise<unknown>((resolve) => stream.on('error', resolve));
    stream.on('data', (change: Record<string, unknown>) => changes.push(change));
    await vi.waitFor(() => expect(changes.map((c) => c.kind)).toContain('CAUGHT_UP'));
    expect(changes.map((c) => [c.kind, c.aggregate_id])).toEqual([
      ['SNAPSHOT', 'rich'],
      ['CAUGHT_UP', ''],
    ]);

    await commands.submit(command('poor', 'Deposit', { amount: 200 }), as('q-live')); // 210
    await commands.submit(command('poor', 'Deposit', { amount: 5 }), as('q-live')); // 215
    await commands.submit(command('poor', 'Withdraw', { amount: 200 }), as('q-live')); // 15
    await account('q-live', 'never', 1); // never in the set
    await vi.waitFor(() => expect(changes).toHaveLength(5));
    expect(
      changes.slice(2).map((c) => [c.kind, c.aggregate_id, c.version, balanceOf(c.state_json)]),
    ).toEqual([
      ['ENTERED', 'poor', 3, 210],
      ['UPDATED', 'poor', 4, 215],
      ['LEFT', 'poor', 5, 15],
    ]);
    stream.cancel();
    expect(((await ended) as { code: number }).code).toBe(status.CANCELLED);
  });

  it('streams an initial set of more than one page of states, each row once, a page at a time', async () => {
    const owner = 'o'.repeat(200_000); // 12 states of ~200 KB: over MAX_PAGE_BYTES together
    const ids = Array.from({ length: 12 }, (_, i) => `big-${String(i).padStart(2, '0')}`);
    let token = 0;
    for (const id of ids) {
      token = (await commands.submit(command(id, 'Open', { owner }), as('q-big-set')))
        .consistency_token as number;
    }
    const changes: Record<string, unknown>[] = [];
    const stream = queries.subscribe(
      { aggregate_type: 'account', filter: '', consistency_token: token },
      as('q-big-set'),
    );
    stream.on('data', (change: Record<string, unknown>) => changes.push(change));
    stream.on('error', () => undefined);
    await vi.waitFor(() => expect(changes.map((c) => c.kind)).toContain('CAUGHT_UP'));
    stream.cancel();
    expect(changes.map((c) => c.aggregate_id)).toEqual([...ids, '']);
    expect(changes.slice(0, -1).every((c) => c.kind === 'SNAPSHOT')).toBe(true);
    expect(changes.at(-1)).toMatchObject({ kind: 'CAUGHT_UP', position: token });
  });

  it('resumes from the versions a client saw: only what it missed', async () => {
    await account('q-resume', 'a', 500);
    await account('q-resume', 'b', 500);
    await account('q-resume', 'c', 500);
    const left = await commands.submit(command('b', 'Withdraw', { amount: 450 }), as('q-resume'));
    const stream = queries.subscribe(
      {
        aggregate_type: 'account',
        filter: 'balance > 100',
        consistency_token: left.consistency_token, // b left the set at version 3
        resume: { a: 2, b: 2 },
      },
      as('q-resume'),
    );
    const changes: Record<string, unknown>[] = [];
    stream.on('data', (change: Record<string, unknown>) => changes.push(change));
    stream.on('error', () => undefined);
    await vi.waitFor(() => expect(changes.map((c) => c.kind)).toContain('CAUGHT_UP'));
    stream.cancel();
    expect(changes.map((c) => [c.kind, c.aggregate_id, c.version])).toEqual([
      ['ENTERED', 'c', 2],
      ['LEFT', 'b', 3],
      ['CAUGHT_UP', '', 0],
    ]);
  });

  it('publishes each new row on state.<tenant>.<type>.<id> after writing it', async () => {
    const received: [string, number, number][] = [];
    const subscription = nc.subscribe(stateSubject('q-notify', 'account'), {
      callback: (_error, message) => {
        const n = decodeNotification(message.data);
        received.push([message.subject, n.version, n.previous_version]);
      },
    });
    await nc.flush();
    const token = await account('q-notify', 'acc-1', 5);
    await vi.waitFor(() => expect(received).toHaveLength(2));
    subscription.unsubscribe();
    expect(received).toEqual([
      ['state.q-notify.account.acc-1', 1, 0],
      ['state.q-notify.account.acc-1', 2, 1],
    ]);
    // Written before it was sent: the row is there at the notified version.
    const page = await query('q-notify', { consistency_token: token });
    expect((page.rows as Row[]).map((r) => r.version)).toEqual([2]);
  });

  it('caps open subscriptions per tenant with UNAVAILABLE, and frees the slot when one ends', async () => {
    await account('q-cap', 'acc-1', 5);
    const open = () => {
      const stream = queries.subscribe({ aggregate_type: 'account' }, as('q-cap'));
      const failed = new Promise<{ code: number; details: string }>((resolve) =>
        stream.on('error', resolve as (e: unknown) => void),
      );
      const outcome = new Promise<'caught up' | 'refused'>((resolve) => {
        stream.on('data', (c: Record<string, unknown>) => {
          if (c.kind === 'CAUGHT_UP') resolve('caught up');
        });
        void failed.then(() => resolve('refused'));
      });
      return { stream, failed, outcome };
    };
    const first = open();
    const second = open();
    expect([await first.outcome, await second.outcome]).toEqual(['caught up', 'caught up']);
    const third = open();
    const refused = await third.failed;
    expect(refused.code).toBe(status.UNAVAILABLE);
    expect(refused.details).toMatch(/subscription/i);
    first.stream.cancel();
    // The server frees the slot once it sees the cancel: a new stream is taken soon after.
    const opened: ReturnType<typeof open>[] = [];
    await vi.waitFor(
      async () => {
        const next = open();
        opened.push(next);
        expect(await next.outcome).toBe('caught up');
      },
      { timeout: 5_000, interval: 100 },
    );
    for (const s of [second, ...opened]) s.stream.cancel();
  });

  it('builds the rows of a tenant it came to own with history written elsewhere, at its first read', async () => {
    // Another writer (a node that owned the tenant before a failover) wrote it, straight into JetStream.
    const position = await writeElsewhere('q-inherited', 'acc-1', 70);
    const page = await query('q-inherited', {
      filter: 'balance = 70 and owner = "elsewhere"',
      consistency_token: position,
    });
    expect((page.rows as Row[]).map((r) => [r.aggregate_id, r.version])).toEqual([['acc-1', 2]]);
  });

  it('rebuilds a deleted database at start: the same query results', async () => {
    const before = await query('q-pages', { filter: 'balance > 100', sort: '-balance' });
    expect(before.rows).toHaveLength(15);
    await stop();
    await rm(path);
    expect(existsSync(path)).toBe(false);
    await start();
    const after = await query('q-pages', { filter: 'balance > 100', sort: '-balance' });
    expect(after.rows).toEqual(before.rows);
    // The admin API rebuilds one tenant (or all) on demand.
    const rebuilt = await admin(node, 'POST', 'read-model/rebuild', { tenant_id: 'q-pages' });
    expect(rebuilt.body).toEqual({ tenants: [{ tenant_id: 'q-pages', rows: 25 }] });
    const again = await query('q-pages', { filter: 'balance > 100', sort: '-balance' });
    expect(again.rows).toEqual(before.rows);
  });

  // Last: it replaces the event stream under the node.
  it('rebuilds a tenant whose rows the event log does not hold (the file outlived its stream)', async () => {
    const before = await query('q-pages', {});
    expect(before.rows).toHaveLength(25);
    await stop();
    await deleteStorage(nc, names); // a new event stream; the read model file stays
    await writeElsewhere('q-pages', 'acc-1', 10);
    await start();
    const after = await query('q-pages', {});
    expect(balances(after.rows)).toEqual([['acc-1', 10]]);
    await stop();
    await start(); // the file now matches the log: caught up, not rebuilt, same rows
    expect(balances((await query('q-pages', {})).rows)).toEqual([['acc-1', 10]]);
  });
});
