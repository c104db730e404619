import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '@tenantfold/core';
import type { NodeRecord } from '@tenantfold/nats';
import { createPlacement } from '@tenantfold/nats';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { StackLayout } from '../src/index.js';
import { constraintsScript, swarmConstraints, swarmStack } from '../src/index.js';
import { dialedEndpoints, runCaptured, sharedAddresses } from '../src/testing.js';

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

interface Service {
  image: string;
  networks: string[];
  command?: string[];
  ports?: { target: number; published: number; mode: string }[];
  environment?: Record<string, string>;
  deploy: {
    mode?: string;
    replicas?: number;
    placement?: { constraints: string[] };
    update_config: { order: string };
  };
}
interface Stack {
  version: string;
  services: Record<string, Service>;
  networks: Record<string, Record<string, unknown>>;
  secrets: Record<string, { external: boolean; name: string }>;
}

/** Three machines, one node each; NATS on the first. */
const hostLayout: StackLayout = {
  network: 'host',
  nats: [{ range: 'range-a', host: '10.0.0.11' }],
  nodes: [
    { id: 'node-1', range: 'range-a', host: '10.0.0.11' },
    { id: 'node-2', range: 'range-b', host: '10.0.0.12' },
    { id: 'node-3', range: 'range-c', host: '10.0.0.13' },
  ],
};
const overlayLayout: StackLayout = {
  network: 'overlay',
  nats: [{ range: 'range-a' }],
  nodes: [
    { id: 'node-1', range: 'range-a' },
    { id: 'node-2', range: 'range-b' },
    { id: 'node-3', range: 'range-c' },
  ],
};
const images = {
  node: 'sha256:aaaa',
  router: 'sha256:bbbb',
  controller: 'sha256:cccc',
  nats: 'sha256:dddd',
};
const stackOf = (layout: StackLayout) => parse(swarmStack(layout, { images })) as Stack;
const service = (stack: Stack, name: string): Service => {
  const found = stack.services[name];
  if (found === undefined) throw new Error(`no service ${name}`);
  return found;
};
const env = (stack: Stack, name: string) => service(stack, name).environment ?? {};

/** Whether a docker client that knows `stack config` is on PATH. */
const docker =
  spawnSync('docker', ['stack', 'config', '--help'], { encoding: 'utf8' }).status === 0;

describe('placementctl stack: the platform with an address per machine', () => {
  it('on the host network, each node binds and advertises only its own machine address', () => {
    const stack = stackOf(hostLayout);
    expect(Object.keys(stack.services)).toEqual([
      'nats',
      'node-1',
      'node-2',
      'node-3',
      'router',
      'controller',
    ]);
    for (const [id, range, host] of [
      ['node-1', 'range-a', '10.0.0.11'],
      ['node-2', 'range-b', '10.0.0.12'],
      ['node-3', 'range-c', '10.0.0.13'],
    ] as const) {
      expect(env(stack, id)).toMatchObject({
        AGGREGATE_NODE_ID: id,
        AGGREGATE_TENANT_RANGE: range,
        AGGREGATE_GRPC_LISTEN: `${host}:50051`,
        AGGREGATE_ADMIN_LISTEN: `${host}:8081`,
        AGGREGATE_ADVERTISE_HOST: host,
        AGGREGATE_NATS_URL: 'nats://10.0.0.11:4222',
        AGGREGATE_ADMIN_TOKEN_FILE: '/run/secrets/admin_token',
      });
      expect(service(stack, id).deploy.placement?.constraints).toEqual([
        `node.labels.tenant_range==${range}`,
      ]);
      expect(service(stack, id).deploy.update_config.order).toBe('stop-first');
      expect(service(stack, id).image).toBe('sha256:aaaa');
    }
    expect(service(stack, 'nats').command).toEqual(
      expect.arrayContaining(['-a', '10.0.0.11', '-p', '4222']),
    );
    expect(service(stack, 'nats').deploy.placement?.constraints).toEqual([
      'node.labels.tenant_range==range-a',
    ]);
    // The controller runs beside NATS unless told otherwise, on that machine's address.
    expect(env(stack, 'controller').PLACEMENTCTL_LISTEN).toBe('10.0.0.11:9464');
    expect(service(stack, 'router').deploy.mode).toBe('global');
    expect(env(stack, 'router').ROUTER_HTTP_LISTEN).toBe('0.0.0.0:8080');
    expect(service(stack, 'router').ports).toBeUndefined();
    expect(stack.networks).toEqual({ hostnet: { external: true, name: 'host' } });
    expect(sharedAddresses(dialedEndpoints(stack.services))).toEqual([]);
  });

  it('on the overlay network, services are dialed by service name and routers are published', () => {
    const stack = stackOf(overlayLayout);
    for (const id of ['node-1', 'node-2', 'node-3']) {
      expect(env(stack, id)).toMatchObject({
        AGGREGATE_GRPC_LISTEN: '0.0.0.0:50051',
        AGGREGATE_ADVERTISE_HOST: id,
        AGGREGATE_NATS_URL: 'nats://nats:4222',
      });
      expect(service(stack, id).networks).toEqual(['backplane']);
    }
    expect(stack.networks).toEqual({ backplane: { driver: 'overlay', attachable: true } });
    expect(service(stack, 'router').ports).toEqual([
      { target: 50050, published: 50050, protocol: 'tcp', mode: 'ingress' },
      { target: 8080, published: 8080, protocol: 'tcp', mode: 'ingress' },
    ]);
    const published = stackOf({ ...overlayLayout, publish: 'host' });
    expect(service(published, 'router').ports?.map((p) => p.mode)).toEqual(['host', 'host']);
    const endpoints = dialedEndpoints(stack.services);
    expect(endpoints.map((e) => `${e.service} ${e.what} ${e.host}:${e.port}`)).toEqual([
      'nats nats nats:4222',
      'node-1 node grpc node-1:50051',
      'node-1 node admin node-1:8081',
      'node-2 node grpc node-2:50051',
      'node-2 node admin node-2:8081',
      'node-3 node grpc node-3:50051',
      'node-3 node admin node-3:8081',
      'controller controller controller:9464',
    ]);
    expect(sharedAddresses(endpoints)).toEqual([]);
  });

  it('the address check fails a stack whose nodes advertise one address for all', () => {
    const shared = (id: string, port: number) => ({
      environment: {
        AGGREGATE_ADVERTISE_HOST: '127.0.0.1',
        AGGREGATE_GRPC_LISTEN: `127.0.0.1:${port}`,
        AGGREGATE_ADMIN_LISTEN: `127.0.0.1:${port + 1000}`,
      },
      id,
    });
    expect(
      sharedAddresses(
        dialedEndpoints({ 'node-1': shared('node-1', 50051), 'node-2': shared('node-2', 50052) }),
      ),
    ).toEqual(['nodes node-1 and node-2 both advertise 127.0.0.1']);
    expect(
      sharedAddresses(
        dialedEndpoints({
          'node-1': {
            environment: { ...shared('x', 1).environment, AGGREGATE_ADVERTISE_HOST: '0.0.0.0' },
          },
        }),
      ),
    ).toHaveLength(2);
  });

  it('is the same file for the same layout, and one node more changes no other service', () => {
    const before = stackOf(hostLayout);
    expect(swarmStack(hostLayout, { images })).toBe(swarmStack(hostLayout, { images }));
    const after = stackOf({
      ...hostLayout,
      nodes: [...hostLayout.nodes, { id: 'node-4', range: 'range-d', host: '10.0.0.14' }],
    });
    expect(Object.keys(after.services)).toContain('node-4');
    for (const name of Object.keys(before.services)) {
      expect(after.services[name]).toEqual(before.services[name]);
    }
  });

  it('writes ${…_IMAGE} variables for images not given, and the admin secret by name', () => {
    const stack = parse(swarmStack(hostLayout, { adminSecret: 'prod_admin' })) as Stack;
    expect(service(stack, 'node-1').image).toMatch(/^\$\{NODE_IMAGE:\?/);
    expect(service(stack, 'nats').image).toMatch(/^\$\{NATS_IMAGE:\?/);
    expect(stack.secrets).toEqual({ admin_token: { external: true, name: 'prod_admin' } });
  });

  it.each([
    [{ ...hostLayout, nodes: [] }, /no nodes/],
    [{ ...hostLayout, nats: [] }, /where does NATS run/],
    [{ ...hostLayout, nats: [hostLayout.nats[0], hostLayout.nats[0]] }, /exactly one NATS/],
    [
      { ...hostLayout, nodes: [{ id: 'node-1', range: 'range-a' }] },
      /needs the address of its machine/,
    ],
    [
      { ...overlayLayout, nats: [{ range: 'range-a', host: '10.0.0.11' }] },
      /no @10\.0\.0\.11 on the overlay/,
    ],
    [
      {
        ...hostLayout,
        nodes: [
          { id: 'node-1', range: 'range-a', host: '10.0.0.11' },
          { id: 'node-2', range: 'range-a', host: '10.0.0.11' },
        ],
      },
      /nodes node-1 and node-2 both advertise 10\.0\.0\.11/,
    ],
    [
      { ...hostLayout, nats: [{ range: 'range-b', host: '10.0.0.11' }] },
      /an address belongs to one machine/,
    ],
    [
      { ...hostLayout, nodes: [{ id: 'node-1', range: 'range-a', host: '0.0.0.0' }] },
      /not an address others can dial/,
    ],
    [
      { ...hostLayout, nodes: [{ id: 'node-1', range: 'range-a', host: '10.0.0.300' }] },
      /not an IPv4 address/,
    ],
    [
      { ...hostLayout, nodes: [{ id: 'router', range: 'range-a', host: '10.0.0.11' }] },
      /not be nats, router or controller/,
    ],
    [
      { ...hostLayout, nodes: [...hostLayout.nodes, hostLayout.nodes[0]] },
      /node 'node-1' is given twice/,
    ],
    [
      { ...hostLayout, ports: { 'router-http': 8081 } },
      /ports node-admin and router-http are both 8081/,
    ],
    [{ ...overlayLayout, routerHost: '10.0.0.1' }, /routers are published/],
    [{ ...hostLayout, publish: 'host' }, /--publish is for the overlay network/],
  ] as [StackLayout, RegExp][])('refuses a layout that would not work: %#', (layout, message) => {
    expect(() => swarmStack(layout)).toThrow(ValidationError);
    expect(() => swarmStack(layout)).toThrow(message);
  });

  it('placementctl stack needs no NATS and explains a bad flag', async () => {
    const ok = await runCaptured(
      [
        'stack',
        '--network',
        'overlay',
        '--nats-machine',
        'range-a',
        '--node',
        'node-1=range-a',
        '--port',
        'router-http=18080',
      ],
      { PLACEMENTCTL_NATS_URL: 'nats://127.0.0.1:1' },
    );
    expect(ok.err).toBe('');
    expect(ok.code).toBe(0);
    expect(service(parse(ok.out) as Stack, 'router').ports?.[1]?.published).toBe(18080);
    const bad = await runCaptured(
      ['stack', '--nats-machine', 'a@10.0.0.1', '--node', 'node-1', '--port', 'web=80'],
      {},
    );
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--node must be <id>=<range>\[@<host>\]/);
  });

  it.skipIf(!docker)(
    'both network modes pass `docker stack config`, with no dialed address shared (skipped: no docker client on PATH)',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'stack-'));
      try {
        for (const layout of [hostLayout, overlayLayout]) {
          const file = join(dir, `${layout.network}.yml`);
          await writeFile(file, swarmStack(layout));
          const result = spawnSync('docker', ['stack', 'config', '-c', file], {
            encoding: 'utf8',
            env: {
              ...process.env,
              NODE_IMAGE: 'sha256:1',
              ROUTER_IMAGE: 'sha256:2',
              CONTROLLER_IMAGE: 'sha256:3',
              NATS_IMAGE: 'sha256:4',
            },
            timeout: 20_000,
          });
          expect(result.stderr).toBe('');
          expect(result.status).toBe(0);
          const config = parse(result.stdout) as Stack;
          expect(config.services['node-2']?.image).toBe('sha256:1');
          expect(Object.keys(config.services).sort()).toEqual([
            'controller',
            'nats',
            'node-1',
            'node-2',
            'node-3',
            'router',
          ]);
          expect(sharedAddresses(dialedEndpoints(config.services))).toEqual([]);
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});

describe('Swarm constraints from placement', () => {
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
});
