// Test helpers of @tenantfold/placement-controller (the `./testing` subpath).
import { runPlacementctl } from './cli/program.js';

export interface CapturedRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** Runs placementctl in this process with `env` as its whole environment, capturing its output. */
export async function runCaptured(
  argv: readonly string[],
  env: Readonly<Record<string, string>>,
): Promise<CapturedRun> {
  let out = '';
  let err = '';
  const code = await runPlacementctl(argv, {
    env,
    out: (text) => void (out += text),
    err: (text) => void (err += text),
    interactive: false,
  });
  return { code, out, err };
}

export { dialedEndpoints, sharedAddresses } from './swarm/dialed.js';
export type { DialedEndpoint } from './swarm/dialed.js';
