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
import type { JetStreamManager } from '@nats-io/jetstream';
import type { AggregateHandle, AggregateStore } from '@tenantfold/core';
import { AggregateStore as Store } from '@tenantfold/core';
import type { JetStreamBackend } from '@tenantfold/nats';
import { openJetStreamBackend } from '@tenantfold/nats';
import { startNatsServer } from '@tenantfold/testkit';
import type { TallyCommand, TallyState } from './lib.js';
import {
  CONCURRENCY,
  interleavedRounds,
  openRawStream,
  quantile,
  rawCase,
  round,
  ROUND_MS,
  ROUNDS,
  table,
  Tally,
} from './lib.js';

const AGGREGATES_PER_WORKER = 4;

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

async function main(): Promise<void> {
  const server = await startNatsServer();
  // As the backend's own connection: no async stack traces (a stack capture per request).
  const { nc, jsm, js } = await openRawStream(server.url);
  const backend = await openJetStreamBackend({
    servers: server.url,
    connectionName: 'bench-engine',
  });
  const store = await Store.builder(backend).aggregate(Tally).open();
  try {
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

    const summaries = await interleavedRounds({
      raw: (r, c) => rawCase(js, r, c),
      engine: (_, c) => engineCase(handles.get(c)!, c),
    });

    const reads = await readCases(store, backend.eventLog, jsm);

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
