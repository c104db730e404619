import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { NatsServer } from '@tenantfold/testkit';
import { freePort, startNatsServer } from '@tenantfold/testkit';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { commandClient } from './grpcClient.js';
import { readModelPath } from './nodeFixture.js';

// The `tenantfold-node` bin as a child process on its own nats-server (so the default
// stream names are fine), killed with SIGTERM while 32 loops keep submitting deposits.
const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const manifest = fileURLToPath(
  new URL('../../../examples/bank-account/aggregates.yaml', import.meta.url),
);
const TENANT = 'acme';
const ACCOUNTS = 50;
const LOOPS = 32;
const ACKED_BEFORE_SIGTERM = 300;
const DRAIN_TIMEOUT_MS = 5_000;
/** The node must exit well within its own deadline (drain timeout + 5 s). */
const EXIT_DEADLINE_MS = DRAIN_TIMEOUT_MS + 5_000;

let nats: NatsServer;
let child: ChildProcess | undefined;
let output = '';

beforeAll(async () => {
  nats = await startNatsServer();
});

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await nats?.stop();
});

interface Ack {
  readonly aggregateId: string;
  readonly version: number;
}

interface StoredCommitJson {
  command_id: string;
  version: number;
  events: Array<{ version: number }>;
}

it('SIGTERM under load: every acknowledged command is in JetStream; no command acknowledged twice', async ({
  annotate,
}) => {
  const grpcPort = await freePort();
  const adminPort = await freePort();
  const node = spawn(
    process.execPath,
    ['--no-node-snapshot', '--import', 'tsx', '--conditions=source', main],
    {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        AGGREGATE_NODE_ID: 'sigterm-node',
        AGGREGATE_NATS_URL: nats.url,
        AGGREGATE_MANIFEST: manifest,
        AGGREGATE_GRPC_LISTEN: `127.0.0.1:${grpcPort}`,
        AGGREGATE_ADMIN_LISTEN: `127.0.0.1:${adminPort}`,
        AGGREGATE_DRAIN_TIMEOUT_MS: String(DRAIN_TIMEOUT_MS),
        AGGREGATE_LOG_LEVEL: 'warn',
        AGGREGATE_READ_MODEL_PATH: readModelPath(),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child = node;
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-8_000));
  node.stdout?.on('data', keep);
  node.stderr?.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>(
    (resolve) =>
      node.once('exit', (code, signal) => resolve({ code, signal, at: performance.now() })),
  );

  // Serving: /ready answers 200 (placement loaded, node RUNNING).
  await vi.waitFor(
    async () => {
      if (node.exitCode !== null) throw new Error(`node exited early: ${output}`);
      const res = await fetch(`http://127.0.0.1:${adminPort}/ready`).catch(() => undefined);
      expect(res?.status, output).toBe(200);
    },
    { timeout: 30_000, interval: 50 },
  );

  const client = commandClient(grpcPort);
  const headers = { 'x-tenant-id': TENANT };
  const submit = (id: string, commandId: string, type: string, data: Record<string, unknown>) =>
    client.submit(
      {
        command_id: commandId,
        aggregate_type: 'account',
        aggregate_id: id,
        payload_json: JSON.stringify({ type, data }),
      },
      headers,
    );

  const accounts = Array.from({ length: ACCOUNTS }, (_, i) => `acc-${i}`);
  const acked = new Map<string, Ack>();
  const ackedTwice: string[] = [];
  const record = (commandId: string, aggregateId: string, response: Record<string, unknown>) => {
    expect(response.duplicate ?? false).toBe(false);
    expect(response.command_id).toBe(commandId);
    if (acked.has(commandId)) ackedTwice.push(commandId);
    acked.set(commandId, { aggregateId, version: Number(response.version) });
  };
  await Promise.all(
    accounts.map(async (id) => {
      const commandId = randomUUID();
      record(commandId, id, await submit(id, commandId, 'Open', { owner: 'ada' }));
    }),
  );

  const sigterm: { at?: number } = {};
  let reachedTarget!: () => void;
  const target = new Promise<void>((resolve) => (reachedTarget = resolve));
  const errorsAfterSigterm: string[] = [];
  const loop = async (n: number) => {
    for (let i = 0; ; i++) {
      const id = accounts[(n * 7 + i * 13) % ACCOUNTS]!;
      const commandId = randomUUID();
      try {
        record(commandId, id, await submit(id, commandId, 'Deposit', { amount: 1 }));
      } catch (error) {
        // Before SIGTERM every command must succeed; after it, the first error ends the loop.
        if (sigterm.at === undefined) throw error;
        errorsAfterSigterm.push((error as Error).message);
        return;
      }
      if (acked.size - ACCOUNTS >= ACKED_BEFORE_SIGTERM) reachedTarget();
    }
  };
  const loops = Promise.all(Array.from({ length: LOOPS }, (_, n) => loop(n)));
  // A loop that fails before SIGTERM fails the test instead of hanging on the target.
  await Promise.race([target, loops]);
  const ackedAtSigterm = acked.size;
  const sigtermAt = performance.now();
  sigterm.at = sigtermAt;
  node.kill('SIGTERM');

  await loops;
  client.close();
  const exit = await Promise.race([
    exited,
    new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error(`node did not exit within ${EXIT_DEADLINE_MS} ms: ${output}`)),
        EXIT_DEADLINE_MS,
      ),
    ),
  ]);
  const exitMs = Math.round(exit.at - sigtermAt);
  expect({ code: exit.code, signal: exit.signal }, output).toEqual({ code: 0, signal: null });
  expect(exitMs).toBeLessThan(EXIT_DEADLINE_MS);
  expect(errorsAfterSigterm).toHaveLength(LOOPS);
  expect(ackedTwice).toEqual([]);

  // Everything in the EVENTS stream, read straight from JetStream.
  const nc = await connect({ servers: nats.url });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info('EVENTS');
    const seen = new Map<string, { subject: string; version: number }>();
    const duplicates: string[] = [];
    const versions = new Map<string, number[]>();
    const decoder = new TextDecoder();
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const message = await jsm.streams.getMessage('EVENTS', { seq });
      if (message === null) continue;
      const commit = JSON.parse(decoder.decode(message.data)) as StoredCommitJson;
      if (seen.has(commit.command_id)) duplicates.push(commit.command_id);
      seen.set(commit.command_id, { subject: message.subject, version: commit.version });
      const list = versions.get(message.subject) ?? [];
      list.push(...commit.events.map((event) => event.version));
      versions.set(message.subject, list);
    }
    expect(duplicates).toEqual([]);

    const missing: string[] = [];
    const mismatched: string[] = [];
    for (const [commandId, ack] of acked) {
      const stored = seen.get(commandId);
      if (stored === undefined) missing.push(commandId);
      else if (
        stored.subject !== `tenant.${TENANT}.aggregate.account.${ack.aggregateId}` ||
        stored.version !== ack.version
      )
        mismatched.push(`${commandId}: acked v${ack.version}, stored ${JSON.stringify(stored)}`);
    }
    expect(missing).toEqual([]);
    expect(mismatched).toEqual([]);

    expect(versions.size).toBe(ACCOUNTS);
    for (const [subject, list] of versions) {
      expect(list, subject).toEqual(Array.from({ length: list.length }, (_, i) => i + 1));
    }

    await annotate(
      `sigterm: ${acked.size} acknowledged (${ackedAtSigterm} at SIGTERM), ` +
        `${seen.size} commits stored, exit ${exitMs} ms after SIGTERM`,
    );
  } finally {
    await nc.close();
  }
}, 60_000);
