import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '@tenantfold/core';
import type { NodeRecord } from '@tenantfold/nats';
import { createPlacement } from '@tenantfold/nats';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { constraintsScript, swarmConstraints, swarmStack } from '../src/index.js';

const at = new Date().toISOString();
const node = (
  id: string,
  range: string,
  port: number,
  status: NodeRecord['status'] = 'active',
): NodeRecord => ({
  id,
  grpcAddress: `10.0.0.1:${port}`,
  adminAddress: `10.0.0.1:${port + 1000}`,
  tenantRange: range,
  weight: 1,
  status,
  heartbeatAt: at,
});
const placement = createPlacement({
  nodes: [
    node('node-a', 'a', 7001),
    node('node-b1', 'b', 7002),
    node('node-b2', 'b', 7002),
    node('node-z', 'z', 7009, 'down'),
  ],
});

interface Stack {
  version: string;
  services: Record<
    string,
    {
      image: string;
      networks: string[];
      environment: Record<string, string>;
      deploy: {
        replicas: number;
        placement: { constraints: string[]; max_replicas_per_node: number };
        update_config: { order: string };
      };
    }
  >;
  networks: Record<string, { external: boolean; name: string }>;
}

/** Whether a docker client that knows `stack config` is on PATH. */
const docker =
  spawnSync('docker', ['stack', 'config', '--help'], { encoding: 'utf8' }).status === 0;

describe('Swarm stack and constraints from placement', () => {
  it('has one aggregate-node service per tenant_range, constrained to its label, on the host network', () => {
    const stack = parse(
      swarmStack(placement, { image: 'sha256:1234', natsUrl: 'nats://10.0.0.9:4222' }),
    ) as Stack;
    expect(Object.keys(stack.services)).toEqual(['aggregate-node-a', 'aggregate-node-b']);
    const a = stack.services['aggregate-node-a'];
    const b = stack.services['aggregate-node-b'];
    expect(a?.deploy.placement.constraints).toEqual(['node.labels.tenant_range==a']);
    expect(b?.deploy.placement.constraints).toEqual(['node.labels.tenant_range==b']);
    expect(b?.deploy.replicas).toBe(2);
    expect(b?.deploy.placement.max_replicas_per_node).toBe(1);
    expect(a?.deploy.update_config.order).toBe('stop-first');
    expect(a?.environment).toMatchObject({
      AGGREGATE_NODE_ID: 'node-a',
      AGGREGATE_TENANT_RANGE: 'a',
      AGGREGATE_NATS_URL: 'nats://10.0.0.9:4222',
      AGGREGATE_GRPC_LISTEN: '0.0.0.0:7001',
      AGGREGATE_ADMIN_LISTEN: '0.0.0.0:8001',
    });
    expect(b?.environment.AGGREGATE_NODE_ID).toBe('b-{{.Task.Slot}}');
    expect(a?.image).toBe('sha256:1234');
    expect(a?.networks).toEqual(['hostnet']);
    expect(stack.networks.hostnet).toEqual({ external: true, name: 'host' });
  });

  it('refuses to generate without an image or without nodes', () => {
    expect(() => swarmStack(placement, { image: ' ' })).toThrow(ValidationError);
    expect(() => swarmStack(createPlacement(), { image: 'x' })).toThrow(/no nodes that are up/);
  });

  it('prints a label command and a constraint per range', () => {
    const constraints = swarmConstraints(placement, new Map([['a', 'worker-1']]));
    expect(constraints.map((c) => [c.range, c.nodes, c.constraint])).toEqual([
      ['a', ['node-a'], 'node.labels.tenant_range==a'],
      ['b', ['node-b1', 'node-b2'], 'node.labels.tenant_range==b'],
    ]);
    const script = constraintsScript(constraints);
    expect(script).toContain('docker node update --label-add tenant_range=a worker-1');
    expect(script).toContain('docker node update --label-add tenant_range=b <swarm-node-for-b>');
    expect(script).toContain("--constraint 'node.labels.tenant_range==b'");
  });

  it.skipIf(!docker)(
    'is accepted by `docker stack config` (skipped: no docker client on PATH)',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'stack-'));
      try {
        const file = join(dir, 'stack.yml');
        await writeFile(file, swarmStack(placement, { image: 'sha256:1234' }));
        const result = spawnSync('docker', ['stack', 'config', '-c', file], {
          encoding: 'utf8',
          env: { ...process.env, TENANTFOLD_ADMIN_TOKEN: 'secret' },
          timeout: 20_000,
        });
        expect(result.stderr).toBe('');
        expect(result.status).toBe(0);
        const config = parse(result.stdout) as Stack;
        expect(config.services['aggregate-node-b']?.deploy.placement.constraints).toEqual([
          'node.labels.tenant_range==b',
        ]);
        expect(config.services['aggregate-node-a']?.environment.AGGREGATE_ADMIN_TOKEN).toBe(
          'secret',
        );
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});
