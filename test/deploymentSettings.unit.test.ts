// Keeps the deployment files honest about the services' settings: every
// AGGREGATE_* / ROUTER_* / PLACEMENTCTL_* variable that the Swarm stack and the
// compose file set is a real setting (a misspelt one would be ignored
// silently), and docker/README.md documents every setting.
import { readFileSync } from 'node:fs';
import { NODE_SETTINGS } from '@tenantfold/aggregate-node';
import type { SettingsSpec } from '@tenantfold/core';
import { ROUTER_SETTINGS } from '@tenantfold/gateway-router';
import { CONTROLLER_SETTINGS } from '@tenantfold/placement-controller';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const tables: SettingsSpec[] = [NODE_SETTINGS, ROUTER_SETTINGS, CONTROLLER_SETTINGS];
const settings = tables.flatMap((table) => Object.values(table));
const known = new Set(settings.map((s) => s.env));
// Read by the services before their settings table: the YAML config path.
for (const env of ['AGGREGATE_CONFIG', 'ROUTER_CONFIG']) known.add(env);
// docker/env-from-files.mjs turns NAME_FILE into a secret setting.
for (const s of settings) if (s.secret === true) known.add(`${s.env}_FILE`);

describe.each(['swarm/stacks/platform.yml', 'docker-compose.yml'])('%s', (file) => {
  it('sets only real settings', () => {
    const { services } = parse(readFileSync(file, 'utf8'), { merge: true }) as {
      services: Record<string, { environment?: Record<string, unknown> }>;
    };
    const unknown = Object.entries(services).flatMap(([name, service]) =>
      Object.keys(service.environment ?? {})
        .filter((key) => /^(AGGREGATE|ROUTER|PLACEMENTCTL)_/.test(key) && !known.has(key))
        .map((key) => `${name}: ${key}`),
    );
    expect(unknown).toEqual([]);
  });
});

it('docker/README.md documents every setting', () => {
  const readme = readFileSync('docker/README.md', 'utf8');
  expect(settings.map((s) => s.env).filter((env) => !readme.includes(`\`${env}\``))).toEqual([]);
});
