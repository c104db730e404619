import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { StateChange } from '../src/index.js';
import { ReadModel } from '../src/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'read-model-checkpoint-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const change = (id: string, version: number, position: number): StateChange => ({
  tenant: 't',
  type: 'account',
  id,
  version,
  state: { version },
  updated_at: '2026-01-01T00:00:00.000Z',
  position,
});

it('starts the catch-up after a rebuild below every rebuilt row, also after a reopen', async () => {
  const path = join(dir, 'rows.db');
  const model = ReadModel.open({ path });
  // 'a' was read at position 3 before its commit at 7; 'b' later, at 9.
  await model.rebuild([change('a', 1, 3), change('b', 2, 9)], { tenant: 't' });
  expect(model.position('t')).toBe(9);
  expect(model.checkpoint('t')).toBe(3);
  model.close();

  const reopened = ReadModel.open({ path });
  expect(reopened.checkpoint('t')).toBe(3);
  // The catch-up applies 'a' at 7: every commit is in, the checkpoint moves up.
  reopened.apply([change('a', 2, 7), change('b', 2, 9)]);
  expect(reopened.get('t', 'account', 'a')?.version).toBe(2);
  expect(reopened.checkpoint('t')).toBe(9);
  reopened.close();
});
