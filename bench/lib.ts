// Shared by the benchmarks: timed rounds, medians, the raw JetStream append case, the table.
import { randomUUID } from 'node:crypto';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Decider } from '@tenantfold/core';
import { DomainError } from '@tenantfold/core';
import { connectNats } from '@tenantfold/nats';

function positiveInteger(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw.trim() === '' ? fallback : Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) {
    console.error(`${name}=${raw}: expected a positive integer`);
    process.exit(2);
  }
  return value;
}

export const CONCURRENCY = [1, 32, 256] as const;
export const ROUNDS = positiveInteger('BENCH_ROUNDS', 3);
export const ROUND_MS = positiveInteger('BENCH_ROUND_MS', 2_000);
export const PAYLOAD = new Uint8Array(150).fill(120);

/**
 * A small aggregate with constant-size state. (The testkit's Counter keeps its
 * whole history, so its state, evolve and snapshots grow with every command:
 * that would measure the fixture, not the engine.)
 */
export interface TallyState {
  readonly count: number;
  readonly total: number;
}
export type TallyCommand = { type: 'Add'; data: { n: number } };
export type TallyEvent = { type: 'Added'; data: { n: number } };
export const Tally: Decider<TallyState, TallyCommand, TallyEvent> = {
  type: 'tally',
  initialState: () => ({ count: 0, total: 0 }),
  decide(state, command) {
    if (state.total + command.data.n < 0) throw new DomainError('tally cannot go below zero');
    return { type: 'Added', data: { n: command.data.n } };
  },
  evolve: (state, event) => ({ count: state.count + 1, total: state.total + event.data.n }),
};

export interface Round {
  readonly ops: number;
  readonly seconds: number;
  readonly latenciesMs: number[];
}

export interface Summary {
  readonly case: string;
  readonly concurrency: number;
  readonly rounds: number;
  readonly ops_per_s: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
  readonly ops_per_s_rounds: number[];
}

export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

export function median(values: readonly number[]): number {
  return quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
}

/** Runs `concurrency` workers, each calling `op` back to back until the round's time is up. */
export async function round(
  concurrency: number,
  op: (worker: number, i: number) => Promise<unknown>,
): Promise<Round> {
  const latenciesMs: number[] = [];
  const started = performance.now();
  const deadline = started + ROUND_MS;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let i = 0; performance.now() < deadline; i++) {
        const t = performance.now();
        await op(worker, i);
        latenciesMs.push(performance.now() - t);
      }
    }),
  );
  return {
    ops: latenciesMs.length,
    seconds: (performance.now() - started) / 1_000,
    latenciesMs,
  };
}

export function summarise(kind: string, concurrency: number, rounds: readonly Round[]): Summary {
  const rates = rounds.map((r) => r.ops / r.seconds);
  const sorted = rounds.map((r) => [...r.latenciesMs].sort((a, b) => a - b));
  return {
    case: kind,
    concurrency,
    rounds: rounds.length,
    ops_per_s: Math.round(median(rates)),
    p50_ms: Number(median(sorted.map((s) => quantile(s, 0.5))).toFixed(3)),
    p99_ms: Number(median(sorted.map((s) => quantile(s, 0.99))).toFixed(3)),
    ops_per_s_rounds: rates.map(Math.round),
  };
}

/** One measured case: a round of it in round `round` (1-based) at `concurrency`. */
export type Case = (round: number, concurrency: (typeof CONCURRENCY)[number]) => Promise<Round>;

/**
 * Runs every case at each of CONCURRENCY for ROUNDS rounds, interleaved round
 * by round so that drift (page cache, GC, the streams growing) hits every case
 * alike. Returns the summaries per concurrency, the cases in the order given.
 */
export async function interleavedRounds(cases: Readonly<Record<string, Case>>): Promise<Summary[]> {
  const results = new Map<string, Round[]>();
  for (let r = 1; r <= ROUNDS; r++) {
    for (const c of CONCURRENCY) {
      for (const [kind, run] of Object.entries(cases)) {
        const key = `${kind}/${c}`;
        results.set(key, [...(results.get(key) ?? []), await run(r, c)]);
      }
    }
    process.stdout.write(`round ${r}/${ROUNDS} done\n`);
  }
  return CONCURRENCY.flatMap((c) =>
    Object.keys(cases).map((kind) => summarise(kind, c, results.get(`${kind}/${c}`)!)),
  );
}

/**
 * The stream the raw case appends to (file storage, as the engine's), on a
 * connection set up as a node's (`connectNats`: no async stack traces).
 */
export async function openRawStream(
  servers: string,
): Promise<{ nc: NatsConnection; jsm: JetStreamManager; js: JetStreamClient }> {
  const nc = await connectNats({ natsServers: [servers] }, { name: 'bench-raw' });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({
    name: 'RAW',
    subjects: ['raw.>'],
    storage: StorageType.File,
    allow_direct: true,
  });
  return { nc, jsm, js: jsm.jetstream() };
}

/** Raw appends: each worker owns a subject and tracks its last sequence. */
export function rawCase(js: JetStreamClient, roundNo: number, concurrency: number) {
  const last = new Array<number>(concurrency).fill(0);
  return round(concurrency, async (worker) => {
    const ack = await js.publish(`raw.r${roundNo}.c${concurrency}.w${worker}`, PAYLOAD, {
      msgID: randomUUID(),
      expect: { lastSubjectSequence: last[worker] ?? 0 },
    });
    last[worker] = ack.seq;
  });
}

export function table(summaries: readonly Summary[]): string {
  const header = ['case', 'conc', 'ops/s (median)', 'p50 ms', 'p99 ms', 'ops/s per round'];
  const rows = summaries.map((s) => [
    s.case,
    String(s.concurrency),
    String(s.ops_per_s),
    s.p50_ms.toFixed(3),
    s.p99_ms.toFixed(3),
    s.ops_per_s_rounds.join(' / '),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
