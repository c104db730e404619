import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

it('tenantfold-node stops at start with a message naming each bad setting', () => {
  const run = spawnSync(
    process.execPath,
    ['--no-node-snapshot', '--import', 'tsx', '--conditions=source', main],
    {
      env: {
        PATH: process.env.PATH,
        AGGREGATE_NODE_ID: 'bad id',
        AGGREGATE_GRPC_LISTEN: 'nowhere',
      },
      encoding: 'utf8',
      timeout: 20_000,
    },
  );
  expect(run.status).toBe(2);
  expect(run.stderr).toContain('AGGREGATE_NODE_ID="bad id": expected 1-64 of A-Z a-z 0-9 _ . -');
  expect(run.stderr).toContain('AGGREGATE_GRPC_LISTEN="nowhere": expected host:port');
  expect(run.stderr).toContain("AGGREGATE_MANIFEST (or 'manifestPath' in the file) is required");
});
