import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import type { ReadModelRunnerOptions } from '@tenantfold/aggregate-node';
import { ReadModelRunner, TenantDeadLetters } from '@tenantfold/aggregate-node';
import type { AggregateStore, AsyncProjection, JsonValue } from '@tenantfold/core';
import {
  AggregateStore as Store,
  DEFAULT_DATA_LIMITS,
  DomainError,
  ProgramLimitError,
  silentLogger,
  TenantId,
  UnavailableError,
} from '@tenantfold/core';
import type { JetStreamBackend } from '@tenantfold/nats';
import { openJetStreamBackend } from '@tenantfold/nats';
import type { ManifestPrograms } from '@tenantfold/programs';
import { loadManifest, loadManifestPrograms, ProgramRuntime } from '@tenantfold/programs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BANK_MANIFEST, deleteStorage, isolatedNames } from './nodeFixture.js';

// The runner on its own, on real JetStream storage, with a dispatch the test controls:
// at-least-once process managers, waiting on passing failures, dead letters on the others.
const names = isolatedNames();
let nc: NatsConnection;
let backend: JetStreamBackend;
let store: AggregateStore;
let programs: ManifestPrograms;
const runtime = new ProgramRuntime();
const tenant = TenantId.parse('saga');

beforeAll(async () => {
  nc = await connect({ servers: inject('natsUrl') });
  backend = await openJetStreamBackend({ nc, ...names.storage });
  programs = await loadManifestPrograms(await loadManifest(BANK_MANIFEST), { runtime });
  let builder = Store.builder({ ...backend, close: () => Promise.resolve() });
  for (const decider of programs.deciders) builder = builder.aggregate(decider);
  store = await builder.open();
  const [account] = programs.deciders;
  const acc = store.get(account!, 'acc-1', { tenant });
  await acc.execute({ type: 'Open', data: { owner: 'ann' } });
  await acc.execute({ type: 'Deposit', data: { amount: 10_000 } });
  await acc.execute({ type: 'Withdraw', data: { amount: 1_000 } });
  await acc.execute({ type: 'Withdraw', data: { amount: 2_000 } });
});

afterAll(async () => {
  await store.close();
  await backend.close();
  runtime.dispose();
  await deleteStorage(nc, names);
  await nc.close();
});

function runner(
  dispatch: ReadModelRunnerOptions['dispatch'],
  projections: ReadModelRunnerOptions['projections'] = programs.projections,
  onSkipped?: (projection: string) => void,
): ReadModelRunner {
  return new ReadModelRunner({
    log: backend.eventLog,
    checkpoints: backend.checkpoints,
    deadLetters: backend.deadLetters,
    projections,
    processManagers: programs.processManagers,
    dispatch,
    owns: () => true,
    mayDispatch: () => true,
    logger: silentLogger,
    sweepMs: 60_000,
    maxStateBytes: DEFAULT_DATA_LIMITS.stateBytes,
    ...(onSkipped === undefined ? {} : { onSkipped }),
  });
}

describe('ReadModelRunner', () => {
  it('skips and lists a commit a projection cannot fold, folds the rest, and keeps the list across a restart', async () => {
    const other = TenantId.parse('proj-skip');
    const [account] = programs.deciders;
    const acc = store.get(account!, 'acc-s', { tenant: other });
    await acc.execute({ type: 'Open', data: { owner: 'sue' } });
    for (const amount of [1, 666, 2]) await acc.execute({ type: 'Deposit', data: { amount } });
    // A projection whose program fails on one event (as a limit would): the others must fold.
    const touchy: AsyncProjection<JsonValue> = {
      name: 'touchy',
      subscribes: ['account'],
      initialState: () => ({ deposited: 0 }),
      apply: (state, event) => {
        const amount = (event.payload as { amount?: number }).amount ?? 0;
        if (amount === 666) return Promise.reject(new ProgramLimitError('too much for this fold'));
        const { deposited } = state as { deposited: number };
        return Promise.resolve({ deposited: deposited + amount });
      },
    };
    const skips: string[] = [];
    const first = runner(
      () => Promise.resolve(),
      [touchy],
      (name) => skips.push(name),
    );
    await first.catchUp(other);
    const view = await first.projection('touchy', other);
    expect(view.state).toEqual({ deposited: 3 });
    expect(view.skipped).toHaveLength(1);
    expect(view.skipped[0]?.reason).toBe('too much for this fold');
    expect(view.skipped[0]?.position).toBeGreaterThan(0);
    expect(skips).toEqual(['touchy']);
    await first.stop();
    const second = runner(() => Promise.resolve(), [touchy]);
    await second.catchUp(other);
    expect((await second.projection('touchy', other)).skipped).toHaveLength(1);
    await second.stop();
  });

  it('waits on a command that cannot be sent now, then sends each command once per event', async () => {
    const sent: Array<Record<string, JsonValue>> = [];
    let available = false;
    const first = runner((envelope) => {
      if (!available) return Promise.reject(new UnavailableError('draining'));
      sent.push(envelope);
      return Promise.resolve();
    });
    await first.catchUp(tenant);
    expect(sent).toEqual([]); // waited: nothing sent, nothing dead-lettered
    available = true;
    await first.catchUp(tenant);
    expect(sent.map((e) => (e.payload as { data: { amount: number } }).data.amount)).toEqual([
      1_000, 2_000,
    ]);
    await first.catchUp(tenant);
    expect(sent).toHaveLength(2); // caught up: no repeat
    expect((await first.projection('totals', tenant)).state).toEqual({
      accounts: 1,
      balance: 7_000,
      deposited: 10_000,
      withdrawn: 3_000,
    });
    await first.stop(); // saves the checkpoints

    // A new runner (a restart, or the tenant's next owner) resumes from the checkpoints.
    const again: unknown[] = [];
    const second = runner((envelope) => {
      again.push(envelope);
      return Promise.resolve();
    });
    await second.catchUp(tenant);
    expect(again).toEqual([]);
    expect((await second.projection('totals', tenant)).state).toMatchObject({ balance: 7_000 });
    await second.stop();
    const deadLetters = new TenantDeadLetters(backend.deadLetters, backend.checkpoints, () =>
      programs.processManagers.map((m) => m.name),
    );
    expect(await deadLetters.list(tenant)).toEqual([]);
  });

  it('dead-letters a refused command and goes on; the letter names the command and the error', async () => {
    const other = TenantId.parse('saga-refused');
    const [account] = programs.deciders;
    const acc = store.get(account!, 'acc-9', { tenant: other });
    await acc.execute({ type: 'Open', data: { owner: 'bob' } });
    await acc.execute({ type: 'Deposit', data: { amount: 5_000 } });
    await acc.execute({ type: 'Withdraw', data: { amount: 1_500 } });
    await acc.execute({ type: 'Withdraw', data: { amount: 1_600 } });
    const sent: unknown[] = [];
    let refused = false;
    const refuseFirst = runner((envelope) => {
      if (!refused) {
        refused = true;
        return Promise.reject(new DomainError('audit case of acc-9 is closed'));
      }
      sent.push(envelope);
      return Promise.resolve();
    });
    await refuseFirst.catchUp(other);
    await refuseFirst.stop();
    expect(sent).toHaveLength(1);
    const deadLetters = new TenantDeadLetters(backend.deadLetters, backend.checkpoints, () =>
      programs.processManagers.map((m) => m.name),
    );
    const letters = await deadLetters.list(other);
    expect(letters).toEqual([
      expect.objectContaining({
        process_manager: 'large-withdrawals',
        error: { code: 'DECIDE', message: 'audit case of acc-9 is closed' },
        envelope: expect.objectContaining({
          tenant_id: other,
          aggregate_type: 'audit',
          payload: { type: 'Flag', data: { account: 'acc-9', amount: 1_500, version: 3 } },
        }) as unknown,
      }),
    ]);
  });
});
