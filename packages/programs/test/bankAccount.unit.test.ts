import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Event } from '@tenantfold/core';
import { AggregateStore, DomainError } from '@tenantfold/core';
import type { ProgramDecider } from '@tenantfold/programs';
import { ProgramRuntime, loadManifest, loadProgramDeciders } from '@tenantfold/programs';
import { DeciderSpecification } from '@tenantfold/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BANK_ACCOUNT_DIR, BANK_ACCOUNT_MANIFEST, TempDirs } from './helpers.js';

const runtime = new ProgramRuntime();
const dirs = new TempDirs();
let account: ProgramDecider;

beforeAll(async () => {
  const [decider] = await loadProgramDeciders(await loadManifest(BANK_ACCOUNT_MANIFEST), {
    runtime,
  });
  if (decider === undefined) throw new Error('the example manifest has no aggregate');
  account = decider;
});
afterEach(() => dirs.cleanup());
afterAll(() => runtime.dispose());

const opened: Event = { type: 'Opened', data: { owner: 'ann' } };
const deposited = (amount: number): Event => ({ type: 'Deposited', data: { amount } });

describe('the bank-account program, given/when/then', () => {
  const given = (events: readonly Event[] = []) => DeciderSpecification.for(account)(events);

  it('opens an account for its owner', async () => {
    await given()
      .when({ type: 'Open', data: { owner: 'ann' } })
      .then([opened]);
    await given()
      .when({ type: 'Open', data: { owner: 'ann' } })
      .thenState({ status: 'open', owner: 'ann', balance: 0 });
  });

  it('deposits and withdraws', async () => {
    await given([opened, deposited(100)])
      .when({ type: 'Withdraw', data: { amount: 40 } })
      .then([{ type: 'Withdrawn', data: { amount: 40 } }]);
    await given([opened, deposited(100)])
      .when({ type: 'Deposit', data: { amount: 5 } })
      .thenState({ status: 'open', owner: 'ann', balance: 105 });
  });

  it('refuses a withdrawal beyond the balance with the program message', async () => {
    await given([opened, deposited(100)])
      .when({ type: 'Withdraw', data: { amount: 500 } })
      .thenThrows(DomainError, 'insufficient funds: balance 100, requested 500');
  });

  it('refuses commands to an account that is not open, and a second Open', async () => {
    await given()
      .when({ type: 'Deposit', data: { amount: 5 } })
      .thenThrows(DomainError, 'account is not open');
    await given([opened])
      .when({ type: 'Open', data: { owner: 'bob' } })
      .thenThrows(DomainError, 'account is already open');
    await given([opened])
      .when({ type: 'Deposit', data: { amount: -5 } })
      .thenThrows(DomainError, 'amount must be a positive number, got -5');
  });
});

describe('the bank-account program in an AggregateStore', () => {
  it('serves open, deposits and a withdrawal, and appends nothing for a rejection', async () => {
    const dir = await dirs.make();
    const store = await AggregateStore.builder(dir).aggregate(account).open();
    try {
      const handle = store.get(account, 'acc-1', { tenant: 'acme' });
      await handle.execute({ type: 'Open', data: { owner: 'ann' } });
      await handle.execute({ type: 'Deposit', data: { amount: 100 } });
      await handle.execute({ type: 'Deposit', data: { amount: 50 } });
      const withdrawn = await handle.execute({ type: 'Withdraw', data: { amount: 75 } });
      expect(withdrawn.events.map((e) => [e.event_type, e.payload])).toEqual([
        ['Withdrawn', { amount: 75 }],
      ]);
      expect(await handle.snapshot()).toEqual({
        state: { status: 'open', owner: 'ann', balance: 75 },
        version: 4,
        position: 4,
      });

      const refused = handle.execute({ type: 'Withdraw', data: { amount: 500 } });
      await expect(refused).rejects.toBeInstanceOf(DomainError);
      await expect(refused).rejects.toThrow(
        new DomainError('insufficient funds: balance 75, requested 500'),
      );
      expect((await handle.snapshot()).version).toBe(4);
      const commits = [];
      for await (const commit of store.backend.eventLog.read(handle.key, 0)) commits.push(commit);
      expect(commits.flatMap((c) => c.events.map((e) => e.event_type))).toEqual([
        'Opened',
        'Deposited',
        'Deposited',
        'Withdrawn',
      ]);
    } finally {
      await store.close();
    }

    // A new store folds the log through the apply program again.
    const reopened = await AggregateStore.builder(dir).aggregate(account).open();
    try {
      expect(await reopened.get(account, 'acc-1', { tenant: 'acme' }).state()).toEqual({
        status: 'open',
        owner: 'ann',
        balance: 75,
      });
    } finally {
      await reopened.close();
    }
  });
});

describe('the example README', () => {
  it('shows the manifest as it is', async () => {
    const readme = await readFile(join(BANK_ACCOUNT_DIR, 'README.md'), 'utf8');
    const manifest = await readFile(BANK_ACCOUNT_MANIFEST, 'utf8');
    const shown = /```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(shown).toBe(manifest);
  });
});
