// Fuzzing what crosses into the engine, embedded (no servers, so many runs
// fit in seconds): command bodies from a client, and any output a program can
// build. Every case ends in success or a clear error with nothing appended,
// the other tenant keeps being served, and the store reopens afterwards.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTenantfoldError, jsonProblem, parseCommandEnvelope, parseJson } from '@tenantfold/core';
import type { ProgramDecider } from '@tenantfold/programs';
import { ProgramRuntime } from '@tenantfold/programs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostileDeciders, openHostileStore } from './support/hostile.js';
import { BOUNDED, commandBody, recipe, recipeCommand } from './support/recipes.js';

let runtime: ProgramRuntime;
let decider: (type: string) => ProgramDecider;
let dir: string;

beforeAll(async () => {
  runtime = new ProgramRuntime();
  decider = await hostileDeciders(runtime);
  dir = await mkdtemp(join(tmpdir(), 'tenantfold-fuzz-'));
});
afterAll(async () => {
  runtime?.dispose();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const openStore = () => openHostileStore(dir, decider);

describe('fuzz: command bodies', () => {
  it('parses any body into a command or a VALIDATION error, never another error', () => {
    fc.assert(
      fc.property(commandBody, (text) => {
        try {
          parseCommandEnvelope({ tenant_id: 't', ...(parseJson(text, 'body') as object) });
        } catch (error) {
          expect(isTenantfoldError(error) && error.code, String(error)).toBe('VALIDATION');
        }
      }),
      { numRuns: 300, ...BOUNDED },
    );
  });
});

describe('fuzz: program outputs', () => {
  it('stores what a program returns as JSON or refuses it (DECIDE, PROGRAM_LIMIT) with nothing appended; the store reopens', async () => {
    let store = await openStore();
    const account = decider('account');
    const victim = () => store.get(account, 'v', { tenant: 'victim' });
    await victim().execute({ type: 'Open', data: { owner: 'v' } });
    let deposits = 0;
    let run = 0;
    await fc.assert(
      fc.asyncProperty(recipeCommand, recipe, async (name, made) => {
        const handle = store.get(decider('recipe'), `r-${run++}`, { tenant: 'attacker' });
        try {
          const result = await handle.execute({ type: name, data: { recipe: made as never } });
          for (const event of result.events) {
            expect(jsonProblem(event.payload)).toBeUndefined();
            expect(JSON.parse(JSON.stringify(event.payload))).toEqual(event.payload);
          }
          expect(jsonProblem(await handle.state())).toBeUndefined();
        } catch (error) {
          expect(isTenantfoldError(error), String(error)).toBe(true);
          expect(['DECIDE', 'PROGRAM_LIMIT', 'VALIDATION']).toContain(
            isTenantfoldError(error) ? error.code : '',
          );
          expect((await handle.snapshot()).version).toBe(0);
        }
        await victim().execute({ type: 'Deposit', data: { amount: 1 } });
        deposits++;
      }),
      { numRuns: 150, ...BOUNDED },
    );
    await store.close();
    store = await openStore();
    try {
      expect((await victim().snapshot()).version).toBe(deposits + 1);
    } finally {
      await store.close();
    }
  });
});
