// Keeps the deployment files honest about the services' settings: every
// AGGREGATE_* / ROUTER_* / PLACEMENTCTL_* variable that the Swarm stacks (the
// hand-written platform.yml and what `placementctl stack` writes) and the
// compose file set is a real setting (a misspelt one would be ignored
// silently), platform.yml and the generated stack run the same services with
// the same settings, each dialed service on its own address, and
// docker/README.md documents every setting.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { NODE_SETTINGS } from '@tenantfold/aggregate-node';
import type { SettingsSpec } from '@tenantfold/core';
import { ROUTER_SETTINGS } from '@tenantfold/gateway-router';
import type { StackLayout } from '@tenantfold/placement-controller';
import { CONTROLLER_SETTINGS, swarmStack } from '@tenantfold/placement-controller';
import { dialedEndpoints, sharedAddresses } from '@tenantfold/placement-controller/testing';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const tables: SettingsSpec[] = [NODE_SETTINGS, ROUTER_SETTINGS, CONTROLLER_SETTINGS];
const settings = tables.flatMap((table) => Object.values(table));
const known = new Set(settings.map((s) => s.env));
// Read by the services before their settings table: the YAML config path.
for (const env of ['AGGREGATE_CONFIG', 'ROUTER_CONFIG']) known.add(env);
// docker/env-from-files.mjs turns NAME_FILE into a secret setting.
for (const s of settings) if (s.secret === true) known.add(`${s.env}_FILE`);

interface Services {
  services: Record<string, { environment?: Record<string, string>; command?: string[] }>;
}

/** The three machines of platform.yml's header, as a layout for `placementctl stack`. */
const threeMachines = (network: 'host' | 'overlay'): StackLayout => {
  const at = (range: string, host: string) => (network === 'host' ? { range, host } : { range });
  return {
    network,
    nats: [at('range-a', '10.0.0.11')],
    nodes: [
      { id: 'node-1', ...at('range-a', '10.0.0.11') },
      { id: 'node-2', ...at('range-b', '10.0.0.12') },
      { id: 'node-3', ...at('range-c', '10.0.0.13') },
    ],
  };
};
const generated = {
  'placementctl stack --network host': swarmStack(threeMachines('host')),
  'placementctl stack --network overlay': swarmStack(threeMachines('overlay')),
};
const platform = parse(readFileSync('swarm/stacks/platform.yml', 'utf8'), {
  merge: true,
}) as Services;

const files: [string, string][] = [
  ['swarm/stacks/platform.yml', readFileSync('swarm/stacks/platform.yml', 'utf8')],
  ['docker-compose.yml', readFileSync('docker-compose.yml', 'utf8')],
  ...Object.entries(generated),
];

describe.each(files)('%s', (_name, text) => {
  it('sets only real settings', () => {
    const { services } = parse(text, { merge: true }) as Services;
    const unknown = Object.entries(services).flatMap(([name, service]) =>
      Object.keys(service.environment ?? {})
        .filter((key) => /^(AGGREGATE|ROUTER|PLACEMENTCTL)_/.test(key) && !known.has(key))
        .map((key) => `${name}: ${key}`),
    );
    expect(unknown).toEqual([]);
  });
});

it('platform.yml runs the services `placementctl stack` writes, with the same settings', () => {
  const stack = parse(generated['placementctl stack --network host']) as Services;
  const shape = ({ services }: Services) =>
    Object.fromEntries(
      Object.entries(services).map(([name, s]) => [name, Object.keys(s.environment ?? {}).sort()]),
    );
  expect(shape(platform)).toEqual(shape(stack));
});

const docker =
  spawnSync('docker', ['stack', 'config', '--help'], { encoding: 'utf8' }).status === 0;

it.skipIf(!docker)(
  'platform.yml gives each dialed service its own machine address (skipped: no docker client)',
  () => {
    const machines = {
      NODE_1_HOST: '10.0.0.11',
      NODE_2_HOST: '10.0.0.12',
      NODE_3_HOST: '10.0.0.13',
      NATS_HOST: '10.0.0.11',
    };
    const images = {
      NODE_IMAGE: 'sha256:1',
      ROUTER_IMAGE: 'sha256:2',
      CONTROLLER_IMAGE: 'sha256:3',
      NATS_IMAGE: 'sha256:4',
    };
    const config = (vars: Record<string, string>) =>
      spawnSync('docker', ['stack', 'config', '-c', 'swarm/stacks/platform.yml'], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...images, ...vars },
        timeout: 20_000,
      });
    const result = config(machines);
    expect(result.stderr).toBe('');
    const { services } = parse(result.stdout) as Services;
    expect(sharedAddresses(dialedEndpoints(services))).toEqual([]);
    expect(services['node-2']?.environment?.AGGREGATE_GRPC_LISTEN).toBe('10.0.0.12:50051');
    // No machine address, no stack: one address for all is never a default.
    const missing = config({ ...machines, NODE_2_HOST: '' });
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain('set NODE_2_HOST to the machine address of node 2');
  },
);

it('docker/README.md documents every setting', () => {
  const readme = readFileSync('docker/README.md', 'utf8');
  expect(settings.map((s) => s.env).filter((env) => !readme.includes(`\`${env}\``))).toEqual([]);
});
