import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '@tenantfold/testkit';
import { describe, expect, it } from 'vitest';
import { ROUTER_SETTINGS } from '../src/config/routerConfig.js';

// The tenantfold-router binary as a user meets it: help, bad settings, no placement.
const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

function run(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', MAIN, ...args],
      {
        env: { PATH: process.env.PATH, ...env },
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('tenantfold-router', () => {
  it('--help lists every setting', async () => {
    const { code, stdout } = await run(['--help']);
    expect(code).toBe(0);
    for (const setting of Object.values(ROUTER_SETTINGS)) expect(stdout).toContain(setting.env);
  });

  it('refuses bad settings at start, naming each one, with exit code 2', async () => {
    const { code, stderr } = await run([], {
      ROUTER_HOLD_TIMEOUT_MS: 'soon',
      ROUTER_GRPC_LISTEN: 'nowhere',
    });
    expect(code).toBe(2);
    expect(stderr).toContain('ROUTER_HOLD_TIMEOUT_MS="soon": expected an integer');
    expect(stderr).toContain('ROUTER_GRPC_LISTEN="nowhere": expected host:port');
  });

  it('says what to do when KV is unreachable and there is no placement file', async () => {
    const { code, stderr } = await run([], {
      ROUTER_NATS_URL: `nats://127.0.0.1:${await freePort()}`,
      ROUTER_NATS_CONNECT_TIMEOUT_MS: '200',
      ROUTER_LOG_LEVEL: 'silent',
    });
    expect(code).toBe(2);
    expect(stderr).toContain('placement KV unreachable');
    expect(stderr).toContain('set ROUTER_PLACEMENT_FILE');
  });

  it('refuses a broken placement file, naming the file and the key', async () => {
    const { code, stderr } = await run([], {
      ROUTER_NATS_URL: `nats://127.0.0.1:${await freePort()}`,
      ROUTER_NATS_CONNECT_TIMEOUT_MS: '200',
      ROUTER_PLACEMENT_FILE: fileURLToPath(
        new URL('./fixtures/bad-placement.yaml', import.meta.url),
      ),
      ROUTER_LOG_LEVEL: 'silent',
    });
    expect(code).toBe(2);
    expect(stderr).toMatch(/placement file .*bad-placement\.yaml: nodes\.node-a\.grpc/);
  });
});
