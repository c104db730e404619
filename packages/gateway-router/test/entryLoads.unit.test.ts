import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const RECORD_LOADS = fileURLToPath(new URL('./fixtures/recordLoads.mjs', import.meta.url));

/** Every module tenantfold-router loads: `--help` runs after all of its imports. */
function modulesLoadedByMain(): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'router-loads-'));
  try {
    const file = join(dir, 'loads.txt');
    const run = spawnSync(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', '--import', RECORD_LOADS, MAIN, '--help'],
      {
        env: { PATH: process.env.PATH, RECORD_LOADS_FILE: file },
        encoding: 'utf8',
        timeout: 20_000,
      },
    );
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

it('the router loads neither SQLite nor the grammar compiler (it only parses filters and routes notifications)', () => {
  const loaded = modulesLoadedByMain();
  // The record sees third-party modules at all (else the check below proves nothing).
  expect(loaded.some((path) => path.includes('/node_modules/@grpc/grpc-js/'))).toBe(true);
  expect(loaded.some((path) => path.includes('/packages/query/'))).toBe(true);
  const unwanted = loaded.flatMap(
    (path) => /\/node_modules\/(better-sqlite3|peggy)\//.exec(path)?.[1] ?? [],
  );
  expect([...new Set(unwanted)]).toEqual([]);
});
