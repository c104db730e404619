// Preloaded into every tenantfold process of the image (NODE_OPTIONS=--import):
// `<NAME>_FILE=/run/secrets/x` sets NAME to that file's content (trailing
// newline dropped) for secret settings (names ending in _TOKEN or _PASSWORD),
// so Swarm and compose secrets reach settings read from env, such as
// AGGREGATE_ADMIN_TOKEN and PLACEMENTCTL_ADMIN_TOKEN.
import { readFileSync } from 'node:fs';
import process from 'node:process';

const SECRET_FILE = /^(?:AGGREGATE|ROUTER|PLACEMENTCTL)_\w*(?:_TOKEN|_PASSWORD)_FILE$/;

for (const [key, path = ''] of Object.entries(process.env)) {
  if (!SECRET_FILE.test(key)) continue;
  const name = key.slice(0, -'_FILE'.length);
  const fail = (reason) => {
    process.stderr.write(`${key}=${path}: ${reason}\n`);
    process.exit(2);
  };
  if (process.env[name] !== undefined) fail(`set ${name} or ${key}, not both`);
  try {
    process.env[name] = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    fail(`cannot read: ${error.message}`);
  }
}
