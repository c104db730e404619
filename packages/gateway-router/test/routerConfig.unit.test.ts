import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@tenantfold/core';
import { describe, expect, it } from 'vitest';
import { loadRouterConfig, ROUTER_SETTINGS } from '../src/config/routerConfig.js';

function problemsOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadRouterConfig', () => {
  it('has a default for every setting and a frozen result', () => {
    const config = loadRouterConfig({});
    expect(config).toMatchObject({
      natsServers: ['nats://127.0.0.1:4222'],
      placementBucket: 'TENANT_PLACEMENT',
      placementFile: '',
      grpcListen: { host: '127.0.0.1', port: 50050 },
      httpListen: { host: '127.0.0.1', port: 8080 },
      allowDefaultTenant: false,
      holdQueueLimit: 1_000,
      holdTimeoutMs: 10_000,
    });
    expect(Object.isFrozen(config)).toBe(true);
    for (const setting of Object.values(ROUTER_SETTINGS)) {
      expect(setting.env.startsWith('ROUTER_')).toBe(true);
    }
  });

  it('reads the YAML file named by ROUTER_CONFIG; env wins, blank env is unset', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'router-config-'));
    try {
      const file = join(dir, 'router.yaml');
      await writeFile(
        file,
        'holdTimeoutMs: 2500\ngrpcListen: "0.0.0.0:7000"\nallowDefaultTenant: true\n',
      );
      const config = loadRouterConfig({
        ROUTER_CONFIG: file,
        ROUTER_GRPC_LISTEN: '127.0.0.1:0',
        ROUTER_HOLD_TIMEOUT_MS: '  ',
      });
      expect(config.holdTimeoutMs).toBe(2_500);
      expect(config.grpcListen).toEqual({ host: '127.0.0.1', port: 0 });
      expect(config.allowDefaultTenant).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports every bad value at once, with its key and value', () => {
    const problems = problemsOf(() =>
      loadRouterConfig({
        ROUTER_NATS_URL: 'http://x:1',
        ROUTER_HOLD_QUEUE_LIMIT: '-1',
        ROUTER_PLACEMENT_BUCKET: 'a.b',
        ROUTER_LOG_LEVEL: 'loud',
      }),
    );
    expect(problems).toEqual([
      expect.stringContaining(`ROUTER_NATS_URL="http://x:1": 'http://x:1' must use nats://`),
      expect.stringContaining('ROUTER_PLACEMENT_BUCKET="a.b": expected 1-64 of A-Z a-z 0-9 _ -'),
      expect.stringContaining('ROUTER_HOLD_QUEUE_LIMIT="-1": expected an integer from 0'),
      expect.stringContaining('ROUTER_LOG_LEVEL="loud": expected one of'),
    ]);
  });

  it('refuses unknown keys and a file that is not a mapping', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'router-config-'));
    try {
      const typo = join(dir, 'typo.yaml');
      await writeFile(typo, 'holdTimeout: 5\n');
      expect(problemsOf(() => loadRouterConfig({}, typo))).toEqual([
        expect.stringContaining("unknown key 'holdTimeout'"),
      ]);
      const list = join(dir, 'list.yaml');
      await writeFile(list, '- 1\n');
      expect(problemsOf(() => loadRouterConfig({}, list))).toEqual([
        `config file ${list}: expected a mapping of settings`,
      ]);
      expect(problemsOf(() => loadRouterConfig({}, join(dir, 'missing.yaml')))[0]).toContain(
        'ENOENT',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
