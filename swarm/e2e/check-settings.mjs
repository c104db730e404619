// Keeps the deployment files honest about the services' settings: every
// AGGREGATE_* / ROUTER_* / PLACEMENTCTL_* variable that the Swarm stack and the
// compose file set must be a real setting (a misspelt one would be ignored
// silently), and docker/README.md must document every setting. Run from the
// repository root after `npm run build`; exits 1 listing each problem.
import { readFileSync } from 'node:fs';
import process from 'node:process';
import { parse } from 'yaml';
import { NODE_SETTINGS } from '@tenantfold/aggregate-node';
import { ROUTER_SETTINGS } from '@tenantfold/gateway-router';
import { CONTROLLER_SETTINGS } from '@tenantfold/placement-controller';

const settings = [NODE_SETTINGS, ROUTER_SETTINGS, CONTROLLER_SETTINGS].flatMap((table) =>
  Object.values(table),
);
const known = new Set(settings.map((s) => s.env));
// Read by the services themselves before their settings table: the YAML config path.
for (const env of ['AGGREGATE_CONFIG', 'ROUTER_CONFIG']) known.add(env);
// docker/env-from-files.mjs: NAME_FILE for secret settings.
for (const s of settings) if (s.secret) known.add(`${s.env}_FILE`);

const problems = [];
for (const file of ['swarm/stacks/platform.yml', 'docker-compose.yml']) {
  const services = parse(readFileSync(file, 'utf8'), { merge: true }).services;
  for (const [name, service] of Object.entries(services)) {
    for (const key of Object.keys(service.environment ?? {})) {
      if (/^(AGGREGATE|ROUTER|PLACEMENTCTL)_/.test(key) && !known.has(key)) {
        problems.push(`${file}: service ${name} sets ${key}, which is no setting`);
      }
    }
  }
}
const readme = readFileSync('docker/README.md', 'utf8');
for (const s of settings) {
  if (!readme.includes(`\`${s.env}\``)) problems.push(`docker/README.md: ${s.env} not documented`);
}

for (const problem of problems) process.stderr.write(`${problem}\n`);
process.stdout.write(
  `settings: ${settings.length} known, ${problems.length === 0 ? 'stack, compose file and README agree' : `${problems.length} problems`}\n`,
);
process.exit(problems.length === 0 ? 0 : 1);
