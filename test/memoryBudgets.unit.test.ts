// One tenant's states can hold ~22× their JSON in heap (1 MiB of empty objects
// is ~22 MiB parsed): a store must still open, rebuild its read model and
// answer queries and reads of every one of them within a small heap. On the
// old bounds (actors and rebuild batches by count, query pages by rows) the
// reopen below ran out of heap and aborted.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STORE_READ_MODEL_FILE } from '@tenantfold/query';
import { afterAll, beforeAll, expect, it } from 'vitest';

const SCRIPT = join(import.meta.dirname, 'fixtures/swollen/swollenStore.ts');
const AUDIT_FLAGS = join(import.meta.dirname, 'fixtures/swollen/auditFlags.ts');
/** 12 states of ~22 MiB of heap: ~270 MiB, over the heap of the reopen. */
const AGGREGATES = 12;
const HEAP_MB = 256;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tenantfold-swollen-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Runs a fixture in its own process; resolves with its exit code, output and errors. */
function run(
  args: readonly string[],
  heapMb?: number,
  script = SCRIPT,
): Promise<{ code: number | null; out: string; err: string }> {
  const flags = heapMb === undefined ? [] : [`--max-old-space-size=${heapMb}`];
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...flags, '--no-node-snapshot', '--conditions=source', '--import', 'tsx', script, ...args],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, out, err }));
  });
}

it('reopens a store of swollen states on a small heap: rebuilds the read model, pages a query, reads each', async () => {
  const written = await run(['write', dir, String(AGGREGATES)]);
  expect(written.code, written.err).toBe(0);
  await rm(join(dir, STORE_READ_MODEL_FILE), { force: true }); // the next open rebuilds it

  const read = await run(['read', dir], HEAP_MB);
  expect(read.code, read.err.slice(-2000)).toBe(0);
  const report = JSON.parse(read.out.trim()) as { rows: number; pages: number; states: number };
  expect(report.rows).toBe(AGGREGATES);
  expect(report.states).toBe(AGGREGATES);
  expect(report.pages).toBeGreaterThan(1); // pages end at MAX_PAGE_BYTES, not at 1,000 rows
}, 180_000);

// Found by a hostile review of the budgets: objects with keys of their own hold
// ~13x their JSON, and the estimate counted a third of it. 24 audit cases of 4
// such Flags each (through the shipped program) ran a 192 MiB node out of heap.
it("holds a tenant's states of unique-key objects (the shipped audit program) within a small heap", async () => {
  const attack = await run(['24'], 192, AUDIT_FLAGS);
  expect(attack.code, attack.err.slice(-2000)).toBe(0);
  const report = JSON.parse(attack.out.trim()) as { heapMib: number; liveActors: number };
  expect(report.liveActors).toBeLessThan(24); // passivated by the budget, not held by count
  expect(report.heapMib).toBeLessThan(96);
}, 180_000);
