import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@tenantfold/core';
import { loadNodeConfig } from '@tenantfold/aggregate-node';
import { afterEach, beforeEach, expect, it } from 'vitest';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tenantfold-config-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

it('reads the YAML file and lets AGGREGATE_* env win', async () => {
  const file = join(dir, 'node.yaml');
  await writeFile(
    file,
    'nodeId: node-a\nmanifestPath: ./aggregates.yaml\nmaxRetries: 3\ngrpcListen: 0.0.0.0:7000\n',
  );
  const config = loadNodeConfig({
    AGGREGATE_CONFIG: file,
    AGGREGATE_MAX_RETRIES: '9',
    AGGREGATE_ADMIN_LISTEN: '127.0.0.1:0',
  });
  expect(config).toMatchObject({
    nodeId: 'node-a',
    manifestPath: './aggregates.yaml',
    maxRetries: 9,
    grpcListen: { host: '0.0.0.0', port: 7000 },
    adminListen: { host: '127.0.0.1', port: 0 },
    natsServers: ['nats://127.0.0.1:4222'],
  });
});

it('stops with a message naming each bad key and value', async () => {
  const file = join(dir, 'node.yaml');
  await writeFile(file, 'nodeId: node a\nsnapshotEvry: 5\n');
  expect(() =>
    loadNodeConfig({
      AGGREGATE_CONFIG: file,
      AGGREGATE_IDLE_TIMEOUT_MS: 'soon',
      AGGREGATE_ADMIN_TOKEN: '',
    }),
  ).toThrow(
    expect.objectContaining({
      problems: [
        expect.stringContaining("unknown key 'snapshotEvry'"),
        'nodeId="node a": expected 1-64 of A-Z a-z 0-9 _ . -',
        expect.stringContaining('AGGREGATE_MANIFEST'),
        'AGGREGATE_IDLE_TIMEOUT_MS="soon": expected an integer from 10 to 86400000',
      ],
    }),
  );
});

it('names the file when it cannot be read or is not a mapping', async () => {
  expect(() => loadNodeConfig({}, join(dir, 'missing.yaml'))).toThrow(ConfigError);
  const list = join(dir, 'list.yaml');
  await writeFile(list, '- a\n- b\n');
  expect(() => loadNodeConfig({}, list)).toThrow(/list\.yaml: expected a mapping/);
});
