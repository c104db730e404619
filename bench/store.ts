// Store benchmark: raw JetStream appends vs engine commands on the JetStream backend.
//
//   npm run bench:store
//
// Starts its own nats-server (file storage, temp dir), then, in the same run and
// interleaved round by round, measures at concurrency 1, 32 and 256:
//   raw     acknowledged JetStream publishes: 150-byte payload, Nats-Msg-Id and
//           expected last subject sequence, one subject per worker;
//   engine  `AggregateStore` commands on `openJetStreamBackend` (default engine
//           options: snapshot every 100 events), each worker cycling over its
//           own 4 aggregates, actors warm.
// Prints a table of medians over the rounds, one JSON line per case, and the
// engine/raw ratio. Environment: BENCH_ROUNDS (default 3), BENCH_ROUND_MS (2000).
import { randomUUID } from 'node:crypto';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { AggregateHandle, AggregateStore, Decider } from '@tenantfold/core';
import { AggregateStore as Store, DomainError } from '@tenantfold/core';
import type { JetStreamBackend } from '@tenantfold/nats';
import { openJetStreamBackend } from '@tenantfold/nats';
import { startNatsServer } from '@tenantfold/testkit';

const CONCURRENCY = [1, 32, 256] as const;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 2_000);
const AGGREGATES_PER_WORKER = 4;
const PAYLOAD = new Uint8Array(150).fill(120);

type Kind = 'raw' | 'engine';

/**
 * A small aggregate with constant-size state. (The testkit's Counter keeps its
 * whole history, so its state, evolve and snapshots grow with every command:
 * that would measure the fixture, not the engine.)
 */
interface TallyState {
  readonly count: number;
  readonly total: number;
}
type TallyCommand = { type: 'Add'; data: { n: number } };
type TallyEvent = { type: 'Added'; data: { n: number } };
const Tally: Decider<TallyState, TallyCommand, TallyEvent> = {
  type: 'tally',
  initialState: () => ({ count: 0, total: 0 }),
  decide(state, command) {
    if (state.total + command.data.n < 0) throw new DomainError('tally cannot go below zero');
    return { type: 'Added', data: { n: command.data.n } };
  },
  evolve: (state, event) => ({ count: state.count + 1, total: state.total + event.data.n }),
};

interface Round {
  readonly ops: number;
  readonly seconds: number;
  readonly latenciesMs: number[];
}

interface Summary {
  readonly case: Kind;
  readonly concurrency: number;
  readonly rounds: number;
  readonly ops_per_s: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
  readonly ops_per_s_rounds: number[];
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

function median(values: readonly number[]): number {
  return quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
}

/** Runs `concurrency` workers, each calling `op` back to back until the round's time is up. */
async function round(
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

function summarise(kind: Kind, concurrency: number, rounds: readonly Round[]): Summary {
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

/** Raw appends: each worker owns a subject and tracks its last sequence. */
function rawCase(js: JetStreamClient, roundNo: number, concurrency: number) {
  const last = new Array<number>(concurrency).fill(0);
  return round(concurrency, async (worker) => {
    const ack = await js.publish(`raw.r${roundNo}.c${concurrency}.w${worker}`, PAYLOAD, {
      msgID: randomUUID(),
      expect: { lastSubjectSequence: last[worker] ?? 0 },
    });
    last[worker] = ack.seq;
  });
}

type TallyHandle = AggregateHandle<TallyState, TallyCommand>;

function handlesFor(store: AggregateStore, concurrency: number): TallyHandle[][] {
  return Array.from({ length: concurrency }, (_, w) =>
    Array.from({ length: AGGREGATES_PER_WORKER }, (_, k) =>
      store.get(Tally, `bench-c${concurrency}-w${w}-k${k}`),
    ),
  );
}

function engineCase(handles: TallyHandle[][], concurrency: number) {
  return round(concurrency, (worker, i) =>
    handles[worker]![i % AGGREGATES_PER_WORKER]!.execute({ type: 'Add', data: { n: 1 } }),
  );
}

interface ReadSummary {
  readonly case: 'read';
  readonly commits: number;
  readonly stream_messages: number;
  readonly median_ms: number;
  readonly p90_ms: number;
}

/**
 * `eventLog.read` of one whole aggregate, once the stream holds everything the
 * write cases wrote: 1 commit (direct gets) and 1,000 commits (a consumer).
 */
async function readCases(
  store: AggregateStore,
  log: JetStreamBackend['eventLog'],
  jsm: JetStreamManager,
): Promise<ReadSummary[]> {
  const out: ReadSummary[] = [];
  for (const [commits, reps] of [
    [1, 200],
    [1_000, 20],
  ] as const) {
    const handle = store.get(Tally, `read-${commits}`);
    for (let i = 0; i < commits; i++) await handle.execute({ type: 'Add', data: { n: 1 } });
    const times: number[] = [];
    for (let rep = 0; rep < reps; rep++) {
      const t = performance.now();
      let seen = 0;
      for await (const _commit of log.read(handle.key)) seen++;
      times.push(performance.now() - t);
      if (seen !== commits) throw new Error(`read ${seen} commits, expected ${commits}`);
    }
    const sorted = times.sort((a, b) => a - b);
    out.push({
      case: 'read',
      commits,
      stream_messages: (await jsm.streams.info(log.streamName)).state.messages,
      median_ms: Number(quantile(sorted, 0.5).toFixed(3)),
      p90_ms: Number(quantile(sorted, 0.9).toFixed(3)),
    });
  }
  return out;
}

function table(summaries: readonly Summary[]): string {
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

async function main(): Promise<void> {
  const server = await startNatsServer();
  // As the backend's own connection: no async stack traces (a stack capture per request).
  const nc = await connect({ servers: server.url, name: 'bench-raw', noAsyncTraces: true });
  const backend = await openJetStreamBackend({
    servers: server.url,
    connectionName: 'bench-engine',
  });
  const store = await Store.builder(backend).aggregate(Tally).open();
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({
      name: 'RAW',
      subjects: ['raw.>'],
      storage: StorageType.File,
      allow_direct: true,
    });
    const js = jsm.jetstream();
    const version = nc.info?.version ?? '?';
    console.log(
      `nats-server ${version}, node ${process.version}, ${ROUNDS} rounds x ${ROUND_MS} ms per case`,
    );

    const handles = new Map(CONCURRENCY.map((c) => [c, handlesFor(store, c)]));
    // Warm-up, not measured: every actor loaded, JIT and connections warm.
    for (const c of CONCURRENCY) {
      await Promise.all(
        handles
          .get(c)!
          .flat()
          .map((h) => h.execute({ type: 'Add', data: { n: 1 } })),
      );
      await rawCase(js, 0, c);
    }
    const sample = await handles.get(1)![0]![0]!.execute({ type: 'Add', data: { n: 1 } });
    const sampleCommit = await backend.eventLog.readAt(
      handles.get(1)![0]![0]!.key,
      sample.position,
    );
    const commitBytes = Buffer.byteLength(JSON.stringify({ ...sampleCommit, position: undefined }));

    const results = new Map<string, Round[]>();
    const record = (kind: Kind, c: number, r: Round) => {
      const key = `${kind}/${c}`;
      results.set(key, [...(results.get(key) ?? []), r]);
    };
    // Interleaved, so that drift (page cache, GC, the stream growing) hits both alike.
    for (let r = 1; r <= ROUNDS; r++) {
      for (const c of CONCURRENCY) {
        record('raw', c, await rawCase(js, r, c));
        record('engine', c, await engineCase(handles.get(c)!, c));
      }
      process.stdout.write(`round ${r}/${ROUNDS} done\n`);
    }

    const reads = await readCases(store, backend.eventLog, jsm);

    const summaries = CONCURRENCY.flatMap((c) =>
      (['raw', 'engine'] as const).map((kind) => summarise(kind, c, results.get(`${kind}/${c}`)!)),
    );
    console.log('');
    console.log(table(summaries));
    console.log(`engine commit message: ${commitBytes} bytes of JSON (raw payload: 150 bytes)`);
    for (const r of reads) {
      console.log(
        `read of one aggregate with ${r.commits} commit${r.commits === 1 ? '' : 's'} (stream of ${r.stream_messages} messages): median ${r.median_ms} ms, p90 ${r.p90_ms} ms`,
      );
    }
    console.log('');
    for (const s of summaries) console.log(JSON.stringify(s));
    for (const r of reads) console.log(JSON.stringify(r));
    for (const c of CONCURRENCY) {
      const raw = summaries.find((s) => s.case === 'raw' && s.concurrency === c)!;
      const engine = summaries.find((s) => s.case === 'engine' && s.concurrency === c)!;
      const ratio = engine.ops_per_s / raw.ops_per_s;
      console.log(
        JSON.stringify({
          case: 'ratio',
          concurrency: c,
          engine_over_raw: Number(ratio.toFixed(3)),
        }),
      );
    }
  } finally {
    await store.close();
    await nc.close();
    await server.stop();
  }
}

await main();
