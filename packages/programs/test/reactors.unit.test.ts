import { join } from 'node:path';
import type { EventEnvelope, JsonObject } from '@tenantfold/core';
import { ApplyError } from '@tenantfold/core';
import {
  loadManifest,
  loadManifestPrograms,
  ManifestError,
  ProgramProcessManager,
  ProgramProjection,
  ProgramRuntime,
} from '@tenantfold/programs';
import { eventEnvelopeOf } from '@tenantfold/testkit';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { BANK_ACCOUNT_MANIFEST, PASSIVE_APPLY, TempDirs } from './helpers.js';

const dirs = new TempDirs();
const runtime = new ProgramRuntime();
afterEach(() => dirs.cleanup());
afterAll(() => runtime.dispose());

const AGGREGATE = `function decide(state, command) { return []; }\n${PASSIVE_APPLY}`;

function event(type: string, payload: JsonObject, version = 1): EventEnvelope {
  return eventEnvelopeOf({
    tenant_id: 'acme',
    aggregate_type: 'account',
    aggregate_id: 'acc-1',
    version,
    type,
    data: payload,
  });
}

async function manifestWith(yaml: string, files: Record<string, string>): Promise<string> {
  const dir = await dirs.with({ 'aggregate.js': AGGREGATE, ...files, 'aggregates.yaml': yaml });
  return join(dir, 'aggregates.yaml');
}

const HEAD = 'aggregates:\n  account:\n    decide: ./aggregate.js\n    apply: ./aggregate.js\n';

describe('projections and process managers in the manifest', () => {
  it('loads the bank-account totals projection and large-withdrawals process manager', async () => {
    const manifest = await loadManifest(BANK_ACCOUNT_MANIFEST);
    expect(manifest.projections.map((p) => [p.name, p.subscribes])).toEqual([
      ['totals', ['account']],
    ]);
    expect(manifest.processManagers[0]).toMatchObject({
      name: 'large-withdrawals',
      subscribes: ['account'],
      limits: { cpuMs: 50 },
    });
    const { projections, processManagers } = await loadManifestPrograms(manifest, { runtime });
    const [totals] = projections;
    let state = totals!.initialState();
    state = await totals!.apply(state, event('Opened', { owner: 'ann' }));
    state = await totals!.apply(state, event('Deposited', { amount: 40 }, 2));
    expect(state).toEqual({ accounts: 1, balance: 40, deposited: 40, withdrawn: 0 });
    const [manager] = processManagers;
    const small = await manager!.react('account', 'acc-1', event('Withdrawn', { amount: 10 }));
    expect(small).toEqual([]);
    const large = await manager!.react('account', 'acc-1', event('Withdrawn', { amount: 1000 }, 7));
    expect(large).toEqual([
      {
        aggregate_type: 'audit',
        instance_id: 'acc-1',
        command: { type: 'Flag', data: { account: 'acc-1', amount: 1000, version: 7 } },
      },
    ]);
  });

  it('reports every bad entry by field: unknown types, missing programs and functions', async () => {
    const file = await manifestWith(
      `${HEAD}projections:\n  bad.name:\n    subscribes: [account]\n    program: ./p.js\n  totals:\n    subscribes: [ledger]\n    program: ./missing.js\nprocessManagers:\n  saga:\n    subscribes: []\n    program: ./p.js\n    extra: 1\n`,
      { 'p.js': 'function project(s, e) { return s; }' },
    );
    const error = (await loadManifest(file).catch((e: unknown) => e)) as ManifestError;
    expect(error).toBeInstanceOf(ManifestError);
    expect(error.issues.map((i) => i.field)).toEqual([
      'projections.bad.name',
      'projections.totals.subscribes[0]',
      'processManagers.saga.extra',
      'processManagers.saga.subscribes',
    ]);
    expect(error.message).toContain(
      'projections.totals.subscribes[0]: expected an aggregate type of this manifest (account), got "ledger"',
    );

    const missingFns = await loadManifest(
      await manifestWith(
        `${HEAD}projections:\n  totals:\n    subscribes: [account]\n    program: ./p.js\nprocessManagers:\n  saga:\n    subscribes: [account]\n    program: ./p.js\n`,
        { 'p.js': 'function project(s, e) { return s; }' },
      ),
    );
    const loadError = (await loadManifestPrograms(missingFns, { runtime }).catch(
      (e: unknown) => e,
    )) as ManifestError;
    expect(loadError.issues).toEqual([
      {
        field: 'projections.totals.program',
        message: './p.js: does not define function initialState()',
      },
      {
        field: 'processManagers.saga.program',
        message: './p.js: does not define function react()',
      },
    ]);
  });

  it('turns a failing or malformed program result into an ApplyError naming the program', async () => {
    const source = { filename: './bad.js', code: 'function react(e) { return [{ nope: 1 }]; }' };
    const manager = await ProgramProcessManager.load({
      name: 'bad',
      subscribes: ['account' as never],
      program: source,
      runtime,
    });
    await expect(manager.react('account', 'acc-1', event('Opened', {}))).rejects.toThrow(
      ApplyError,
    );
    const projection = await ProgramProjection.load({
      name: 'boom',
      subscribes: ['account' as never],
      program: {
        filename: './boom.js',
        code: 'function initialState() { return {}; }\nfunction project(s, e) { return s.x.y; }',
      },
      runtime,
    });
    await expect(projection.apply({}, event('Opened', {}))).rejects.toThrow(
      /projection boom: \.\/boom\.js: project failed on Opened .*TypeError/,
    );
  });

  it('folds and reacts in batches exactly as one call per event, each on a fresh scope', async () => {
    const manifest = await loadManifest(BANK_ACCOUNT_MANIFEST);
    const { projections, processManagers } = await loadManifestPrograms(manifest, { runtime });
    const totals = projections[0]!;
    const saga = processManagers[0]!;
    const events = [
      event('Opened', { owner: 'ann' }, 1),
      event('Deposited', { amount: 5_000 }, 2),
      event('Withdrawn', { amount: 1_200 }, 3),
      event('Withdrawn', { amount: 10 }, 4),
    ];
    let oneByOne = totals.initialState();
    for (const e of events) oneByOne = await totals.apply(oneByOne, e);
    expect(await totals.applyMany(totals.initialState(), events)).toEqual(oneByOne);
    const reactions = await saga.reactMany(events);
    expect(reactions).toEqual(
      await Promise.all(events.map((e) => saga.react('account', 'acc-1', e))),
    );
    expect(reactions.map((r) => r.length)).toEqual([0, 0, 1, 0]);

    // A top-level variable does not carry from one event of a batch to the next.
    const leaky = await ProgramProjection.load({
      name: 'leaky',
      subscribes: ['account' as never],
      program: {
        filename: './leaky.js',
        code: 'let seen = 0;\nfunction initialState() { return []; }\nfunction project(s, e) { seen++; return [...s, seen]; }',
      },
      runtime,
    });
    expect(await leaky.applyMany([], events)).toEqual([1, 1, 1, 1]);
    const failing = await ProgramProjection.load({
      name: 'failing',
      subscribes: ['account' as never],
      program: {
        filename: './failing.js',
        code: 'function initialState() { return 0; }\nfunction project(s, e) { if (e.version === 3) throw new TypeError("bad"); return s + 1; }',
      },
      runtime,
    });
    await expect(failing.applyMany(0, events)).rejects.toThrow(
      'projection failing: ./failing.js: project failed in a batch of 4 events: TypeError: bad',
    );
  });
});
