import { describe, expect, it } from 'vitest';
import { EXIT, runPlacementctl } from '../src/index.js';

async function run(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await runPlacementctl(argv, {
    env: {},
    out: (text) => void (out += text),
    err: (text) => void (err += text),
    interactive: false,
  });
  return { code, out, err };
}

const COMMANDS = [
  ['init'],
  ['status'],
  ['nodes', 'list'],
  ['nodes', 'add'],
  ['nodes', 'remove'],
  ['nodes', 'drain'],
  ['tenants', 'list'],
  ['tenants', 'where'],
  ['tenants', 'pin'],
  ['tenants', 'unpin'],
  ['ring'],
  ['constraints'],
  ['stack'],
  ['export'],
  ['import'],
  ['migrate'],
  ['rebalance'],
  ['serve'],
];

describe('placementctl help', () => {
  it('lists every command and the exit codes', async () => {
    const help = await run('--help');
    expect(help.code).toBe(EXIT.OK);
    for (const [name] of COMMANDS) expect(help.out).toContain(`  ${name as string}`);
    expect(help.out).toContain('Exit codes:');
  });

  it.each(COMMANDS.map((words) => words.join(' ')))(
    '`%s --help` explains the command with an example, without touching NATS',
    async (command) => {
      const help = await run(...command.split(' '), '--help');
      expect(help.code).toBe(EXIT.OK);
      expect(help.out).toContain(`Usage: placementctl ${command}`);
      expect(help.out).toMatch(/Examples?:\n {2}(\S+=\S+ )*placementctl /);
    },
  );

  it('answers a missing argument or an unknown command with usage and exit 2', async () => {
    const missing = await run('migrate');
    expect(missing.code).toBe(EXIT.USAGE);
    expect(missing.err).toContain("missing required argument 'tenant'");
    expect(missing.err).toContain('(add --help for usage)');
    const unknown = await run('shuffle');
    expect(unknown.code).toBe(EXIT.USAGE);
    expect(unknown.err).toContain("unknown command 'shuffle'");
  });
});
