// Query engine benchmark: the SQLite state read model with one tenant of
// 100,000 aggregates (a real database file, WAL).
//
//   npm run bench:query
//
// Cases (one thread: better-sqlite3 is synchronous, so concurrency is 1):
//   apply/bulk     loading the 100k rows, 1,000 changes per transaction (rows/s)
//   apply/commit   one change per transaction, as a node applies each commit
//   indexed-page   `status = "open" and balance > X` sorted `-balance`, limit 100,
//                  X random (declared indexes: balance, status, owner.name)
//   indexed-next   the page after a random indexed page (keyset cursor)
//   scan           `nickname starts_with "zz"` (not indexed, matches nothing):
//                  every one of the 100k rows is read, limit 100
// Prints a table of medians over the rounds and one JSON line per case.
// Environment: BENCH_ROUNDS (default 3), BENCH_ROUND_MS (2000),
// BENCH_AGGREGATES (100000).
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StateChange } from '@tenantfold/query';
import { ReadModel } from '@tenantfold/query';
import type { Round, Summary } from './lib.js';
import { median, quantile, round, ROUND_MS, ROUNDS, summarise, table } from './lib.js';

const AGGREGATES = Number(process.env.BENCH_AGGREGATES ?? 100_000);
const TENANT = 'bench-tenant';
const STATUSES = ['open', 'open', 'open', 'closed', 'frozen'];
const AIMS = { 'indexed-page': 5, scan: 150 } as const;

let position = 0;
const versions = new Map<string, number>();
function change(i: number): StateChange {
  const id = `acc-${String(i).padStart(6, '0')}`;
  const version = (versions.get(id) ?? 0) + 1;
  versions.set(id, version);
  return {
    tenant: TENANT,
    type: 'account',
    id,
    version,
    state: {
      status: STATUSES[Math.floor(Math.random() * STATUSES.length)]!,
      owner: { name: `owner-${Math.floor(Math.random() * 10_000)}` },
      balance: Math.floor(Math.random() * 100_000) / 100,
      nickname: `nick-${i}`,
      tier: i % 10 === 0 ? 'gold' : 'silver',
      opened_at: new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString(),
    },
    updated_at: new Date().toISOString(),
    position: ++position,
  };
}

/**
 * Runs a synchronous operation for one round, also recording the process CPU
 * time of each call (all threads, so GC helpers count): on a shared machine
 * the wall clock includes waiting for a core, the CPU time does not.
 */
function syncRound(op: () => unknown, cpuMs: number[]): Promise<Round> {
  return round(1, () => {
    const before = process.cpuUsage();
    op();
    const used = process.cpuUsage(before);
    cpuMs.push((used.user + used.system) / 1_000);
    return Promise.resolve();
  });
}

const dir = await mkdtemp(join(tmpdir(), 'tenantfold-bench-query-'));
const options = {
  path: join(dir, 'state.db'),
  indexes: { account: ['balance', 'status', 'owner.name'] },
};
const model = ReadModel.open(options);
try {
  console.log(
    `node ${process.version}, ${AGGREGATES} aggregates in one tenant, ${ROUNDS} rounds x ${ROUND_MS} ms per case, load average ${loadavg()[0]!.toFixed(1)}`,
  );
  const loadStarted = performance.now();
  for (let i = 0; i < AGGREGATES; i += 1_000) {
    model.apply(Array.from({ length: Math.min(1_000, AGGREGATES - i) }, (_, k) => change(i + k)));
  }
  const loadSeconds = (performance.now() - loadStarted) / 1_000;
  model.analyze();
  const bulk = {
    case: 'apply/bulk',
    rows: AGGREGATES,
    seconds: Number(loadSeconds.toFixed(2)),
    rows_per_s: Math.round(AGGREGATES / loadSeconds),
  };

  const threshold = () => Math.floor(Math.random() * 900);
  const indexedPage = () =>
    model.query(TENANT, 'account', {
      filter: `status = "open" and balance > ${threshold()}`,
      sort: '-balance',
      limit: 100,
    });
  const checks = {
    indexed: indexedPage().rows.length,
    scan: model.query(TENANT, 'account', { filter: 'nickname starts_with "zz"', limit: 100 }).rows
      .length,
    plan: model.explain(TENANT, 'account', {
      filter: 'status = "open" and balance > 1',
      sort: '-balance',
    }),
  };
  if (checks.indexed !== 100 || checks.scan !== 0) {
    throw new Error(`unexpected result sizes ${JSON.stringify(checks)}`);
  }

  // Cursors spread over the whole result (one per 1,000 rows; the limit is not
  // part of a cursor), made beforehand so the case times one page.
  const deepQuery = { filter: 'status = "open" and balance > 0', sort: '-balance' };
  const cursors: string[] = [];
  for (let page = model.query(TENANT, 'account', { ...deepQuery, limit: 1_000 }); ;) {
    if (page.nextCursor === undefined) break;
    cursors.push(page.nextCursor);
    page = model.query(TENANT, 'account', { ...deepQuery, limit: 1_000, cursor: page.nextCursor });
  }
  const cases: Record<string, () => unknown> = {
    'apply/commit': () => model.apply([change(Math.floor(Math.random() * AGGREGATES))]),
    'indexed-page': indexedPage,
    'indexed-next': () =>
      model.query(TENANT, 'account', {
        ...deepQuery,
        limit: 100,
        cursor: cursors[Math.floor(Math.random() * cursors.length)]!,
      }),
    scan: () => model.query(TENANT, 'account', { filter: 'nickname starts_with "zz"', limit: 100 }),
  };
  const results = new Map<string, Round[]>();
  const cpu = new Map<string, number[][]>(Object.keys(cases).map((name) => [name, []]));
  for (let r = 1; r <= ROUNDS; r++) {
    for (const [name, op] of Object.entries(cases)) {
      const cpuMs: number[] = [];
      results.set(name, [...(results.get(name) ?? []), await syncRound(op, cpuMs)]);
      cpu.get(name)!.push(cpuMs.sort((a, b) => a - b));
    }
    process.stdout.write(`round ${r}/${ROUNDS} done\n`);
  }
  const summaries = [...results].map(
    ([name, rounds]): Summary & { cpu_p50_ms: number; cpu_p99_ms: number } => {
      return {
        ...summarise(name, 1, rounds),
        // Like the wall clock figures: the median over the rounds of each round's quantile.
        cpu_p50_ms: Number(median(cpu.get(name)!.map((r) => quantile(r, 0.5))).toFixed(3)),
        cpu_p99_ms: Number(median(cpu.get(name)!.map((r) => quantile(r, 0.99))).toFixed(3)),
      };
    },
  );

  // What a node pays at start: open with the integrity check of the whole file.
  const reopenStarted = performance.now();
  const reopened = ReadModel.open(options);
  const reopen = {
    case: 'open/checked',
    rows: reopened.tenants()[0]?.rows ?? 0,
    ms: Number((performance.now() - reopenStarted).toFixed(1)),
    status: reopened.opened.status,
  };
  reopened.close();

  console.log('');
  console.log(table(summaries));
  console.log(
    `apply/bulk: ${bulk.rows} rows in ${bulk.seconds} s (${bulk.rows_per_s} rows/s, 1,000 per transaction)`,
  );
  console.log(`open with quick_check: ${reopen.ms} ms for ${reopen.rows} rows (${reopen.status})`);
  console.log(`indexed plan: ${checks.plan.join(' | ')}`);
  // p99 on a shared machine measures the neighbours as much as the engine.
  console.log(`load average (1 min) at the end: ${loadavg()[0]!.toFixed(1)}`);
  for (const s of summaries) {
    console.log(`${s.case}: CPU time per call p50 ${s.cpu_p50_ms} ms, p99 ${s.cpu_p99_ms} ms`);
  }
  for (const [name, aim] of Object.entries(AIMS)) {
    const s = summaries.find((c) => c.case === name)!;
    const verdict = (ms: number) => `${ms <= aim ? 'met' : 'MISSED'} (${ms} ms)`;
    console.log(
      `aim ${name} p99 < ${aim} ms: wall clock ${verdict(s.p99_ms)}, CPU time ${verdict(s.cpu_p99_ms)}`,
    );
  }
  console.log('');
  console.log(JSON.stringify(bulk));
  console.log(JSON.stringify(reopen));
  for (const s of summaries) console.log(JSON.stringify(s));
} finally {
  model.close();
  await rm(dir, { recursive: true, force: true });
}
