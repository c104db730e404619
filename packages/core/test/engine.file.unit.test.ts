import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFileBackend } from '@tenantfold/core';
import { describeEngineContract } from '@tenantfold/testkit';

describeEngineContract('the file log', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tenantfold-engine-'));
  return {
    open: () => openFileBackend(dir),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
});
