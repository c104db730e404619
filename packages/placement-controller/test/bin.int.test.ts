import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '@tenantfold/testkit';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, inject, it, vi } from 'vitest';
import { EXIT } from '../src/index.js';
import { deleteNames, isolatedNames } from './cliHarness.js';

// The placementctl bin as a real process: exit codes, and `serve` until SIGTERM.
const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

function start(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', MAIN, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return { child, exited, output: () => ({ out, err }) };
}

const used: Array<ReturnType<typeof isolatedNames>> = [];
const names = () => {
  const fresh = isolatedNames();
  used.push(fresh);
  return fresh;
};

afterAll(async () => {
  const nc = await connect({ servers: inject('natsUrl') });
  for (const n of used) await deleteNames(nc, n);
  await nc.close();
});

describe('placementctl bin', () => {
  it('exits 3 with what to do when placement is not initialised', async () => {
    const run = start(['status'], { PLACEMENTCTL_NATS_URL: inject('natsUrl'), ...names() });
    expect(await run.exited).toBe(EXIT.NOT_FOUND);
    expect(run.output().err).toContain('run `placementctl init` first');
  });

  it('serve answers /health and /metrics, and stops cleanly on SIGTERM', async () => {
    const env = { PLACEMENTCTL_NATS_URL: inject('natsUrl'), ...names() };
    expect(await start(['init'], env).exited).toBe(EXIT.OK);
    const port = await freePort();
    const serve = start(['serve', '--listen', `127.0.0.1:${port}`], env);
    try {
      const health = await vi.waitFor(
        async () => {
          const res = await fetch(`http://127.0.0.1:${port}/health`);
          return (await res.json()) as { ok: boolean };
        },
        { timeout: 20_000, interval: 100 },
      );
      expect(health.ok).toBe(true);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toContain('placement_migrations_total');
      expect(metrics).toContain('placement_nodes_marked_down_total 0');
      serve.child.kill('SIGTERM');
      expect(await serve.exited).toBe(EXIT.OK);
    } finally {
      if (serve.child.exitCode === null) serve.child.kill('SIGKILL');
    }
  });
});
