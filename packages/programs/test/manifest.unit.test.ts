import { join } from 'node:path';
import { ValidationError } from '@tenantfold/core';
import {
  ManifestError,
  ProgramRuntime,
  loadManifest,
  loadProgramDeciders,
} from '@tenantfold/programs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { BANK_ACCOUNT_DIR, BANK_ACCOUNT_MANIFEST, TempDirs } from './helpers.js';

const PROGRAM = `
function decide(state, command) { return []; }
function evolve(state, event) { return state; }
function initialState() { return {}; }
`;

const dirs = new TempDirs();
const runtime = new ProgramRuntime();
afterEach(() => dirs.cleanup());
afterAll(() => runtime.dispose());

/** Writes `aggregates.yaml` (and program.js) to a new directory; returns the manifest's path. */
async function manifestFile(yaml: string, files: Record<string, string> = {}): Promise<string> {
  const dir = await dirs.with({ 'program.js': PROGRAM, ...files, 'aggregates.yaml': yaml });
  return join(dir, 'aggregates.yaml');
}

/** The error loading this manifest fails with. */
async function failure(yaml: string, files?: Record<string, string>) {
  const file = await manifestFile(yaml, files);
  const error = await loadManifest(file).then(
    () => {
      throw new Error('the manifest loaded');
    },
    (e: unknown) => e as ManifestError,
  );
  expect(error).toBeInstanceOf(ManifestError);
  expect(error).toBeInstanceOf(ValidationError);
  return { file, error };
}

describe('loadManifest', () => {
  it('reads the bank-account example into a frozen manifest', async () => {
    const manifest = await loadManifest(BANK_ACCOUNT_MANIFEST);
    expect(manifest.file).toBe(BANK_ACCOUNT_MANIFEST);
    expect(manifest.dir).toBe(BANK_ACCOUNT_DIR);
    const [account] = manifest.aggregates;
    expect(account).toMatchObject({
      type: 'account',
      decide: { filename: './decide.js', path: join(BANK_ACCOUNT_DIR, 'decide.js') },
      apply: { filename: './apply.js', path: join(BANK_ACCOUNT_DIR, 'apply.js') },
      snapshotEvery: 50,
      maxRetries: 3,
      limits: { cpuMs: 100, memoryMb: 32 },
      query: { indexes: ['status', 'owner', 'balance'] },
    });
    expect(account?.decide.code).toContain('function decide(state, command)');
    for (const part of [manifest, manifest.aggregates, account, account?.decide, account?.limits]) {
      expect(Object.isFrozen(part)).toBe(true);
    }
    expect(Object.isFrozen(account?.query.indexes)).toBe(true);
  });

  it('leaves optional fields out', async () => {
    const manifest = await loadManifest(
      await manifestFile(
        'aggregates:\n  counter:\n    decide: program.js\n    apply: program.js\n',
      ),
    );
    expect(manifest.aggregates).toEqual([
      expect.objectContaining({ type: 'counter', limits: {}, query: { indexes: [] } }),
    ]);
    expect(manifest.aggregates[0]).not.toHaveProperty('snapshotEvery');
  });

  it('names the file and the field of a missing program file', async () => {
    const { file, error } = await failure(
      'aggregates:\n  account:\n    decide: ./decide.js\n    apply: ./program.js\n',
    );
    expect(error.message).toBe(`${file}: aggregates.account.decide: file not found: ./decide.js`);
    expect(error.field).toBe('aggregates.account.decide');
    expect(error.issues).toEqual([
      { field: 'aggregates.account.decide', message: 'file not found: ./decide.js' },
    ]);
  });

  it('refuses a bad aggregate type name', async () => {
    const { file, error } = await failure(
      'aggregates:\n  Bank_Account:\n    decide: ./program.js\n    apply: ./program.js\n',
    );
    expect(error.message).toBe(
      `${file}: aggregates.Bank_Account: invalid aggregate type "Bank_Account": ` +
        'expected a lowercase letter then up to 63 of a-z 0-9 _ -',
    );
    expect(error.field).toBe('aggregates.Bank_Account');
  });

  it.each([
    [
      'snapshotEvery: often',
      'snapshotEvery',
      'expected an integer from 0 to 1000000000, got "often"',
    ],
    ['maxRetries: -1', 'maxRetries', 'expected an integer from 0 to 100, got -1'],
    [
      'limits: { cpuMs: fast }',
      'limits.cpuMs',
      'expected an integer from 1 to 60000 (ms), got "fast"',
    ],
    [
      'limits: { memoryMb: 4 }',
      'limits.memoryMb',
      'expected an integer from 8 to 8192 (MB), got 4',
    ],
    ['limits: 100', 'limits', 'expected a mapping, got 100'],
    [
      'query: { indexes: status }',
      'query.indexes',
      'expected a list of state fields, got "status"',
    ],
    [
      'query: { indexes: [status, "a b"] }',
      'query.indexes[1]',
      'expected a state field such as balance or owner.name, got "a b"',
    ],
  ])('names the field of a wrong value: %s', async (line, field, message) => {
    const { file, error } = await failure(
      `aggregates:\n  account:\n    decide: ./program.js\n    apply: ./program.js\n    ${line}\n`,
    );
    expect(error.message).toBe(`${file}: aggregates.account.${field}: ${message}`);
    expect(error.field).toBe(`aggregates.account.${field}`);
  });

  it('refuses a program path that is not a string, or is absolute', async () => {
    const { file, error } = await failure(
      'aggregates:\n  account:\n    decide: 42\n    apply: /etc/program.js\n',
    );
    expect(error.message).toBe(
      [
        `${file}: aggregates.account.decide: expected a non-empty string, got 42`,
        `${file}: aggregates.account.apply: expected a path relative to the manifest, got /etc/program.js`,
      ].join('\n'),
    );
  });

  it('names an unknown field, in an aggregate and at the top', async () => {
    const { file, error } = await failure(
      'aggregates:\n  account:\n    decide: ./program.js\n    apply: ./program.js\n    snapshotEvry: 5\n',
    );
    expect(error.message).toBe(
      `${file}: aggregates.account.snapshotEvry: unknown field ` +
        '(expected one of: decide, apply, snapshotEvery, maxRetries, limits, query)',
    );
    const top = await failure('aggregate:\n  account: {}\n');
    expect(top.error.issues).toEqual([
      {
        field: 'aggregate',
        message: 'unknown field (expected one of: aggregates, projections, processManagers)',
      },
      { field: 'aggregates', message: 'required field is missing' },
    ]);
  });

  it('reports every problem at once', async () => {
    const { error } = await failure(
      'aggregates:\n  account:\n    apply: ./nope.js\n    maxRetries: many\n  Other: {}\n',
    );
    expect(error.issues.map((i) => i.field)).toEqual([
      'aggregates.account.decide',
      'aggregates.account.maxRetries',
      'aggregates.Other',
      'aggregates.Other.decide',
      'aggregates.Other.apply',
    ]);
  });

  it('reports YAML syntax errors with their position', async () => {
    const { file, error } = await failure('aggregates:\n  account:\n    decide: [x\n');
    expect(error.message).toMatch(
      new RegExp(`^${file}: invalid YAML: .* at line \\d+, column \\d+$`),
    );
    const duplicate = await failure('aggregates: {}\naggregates: {}\n');
    expect(duplicate.error.message).toMatch(/invalid YAML: Map keys must be unique at line 2/);
  });

  it('refuses an empty manifest and a missing one', async () => {
    const { file, error } = await failure('');
    expect(error.message).toBe(`${file}: expected a mapping with an 'aggregates' key, got null`);
    const none = await failure('aggregates: {}\n');
    expect(none.error.message).toBe(
      `${none.file}: aggregates: expected at least one aggregate type`,
    );
    const missing = join(await dirs.make(), 'aggregates.yaml');
    await expect(loadManifest(missing)).rejects.toThrow(`${missing}: file not found: ${missing}`);
  });
});

describe('loadProgramDeciders', () => {
  it('names the manifest, the field and the program of a syntax error', async () => {
    const file = await manifestFile(
      'aggregates:\n  account:\n    decide: ./broken.js\n    apply: ./program.js\n',
      { 'broken.js': 'function decide(state, command) {\n  return [;\n}\n' },
    );
    const loading = loadProgramDeciders(await loadManifest(file), { runtime });
    await expect(loading).rejects.toBeInstanceOf(ManifestError);
    await expect(loading).rejects.toThrow(
      new RegExp(
        `^${file}: aggregates\\.account\\.decide: \\./broken\\.js: SyntaxError: Unexpected token .*\\[\\./broken\\.js:2:11\\]$`,
      ),
    );
  });

  it('names the field whose program lacks a function', async () => {
    const file = await manifestFile(
      'aggregates:\n  account:\n    decide: ./program.js\n    apply: ./decide-only.js\n',
      { 'decide-only.js': 'function decide() { return []; }' },
    );
    const loading = loadProgramDeciders(await loadManifest(file), { runtime });
    await expect(loading).rejects.toThrow(
      `${file}: aggregates.account.apply: ./decide-only.js: does not define ` +
        'function evolve(state, event) and function initialState()',
    );
    await expect(loading).rejects.toMatchObject({ field: 'aggregates.account.apply' });
  });

  it('passes snapshotEvery, maxRetries and limits on to the deciders', async () => {
    const file = await manifestFile(
      'aggregates:\n  account:\n    decide: ./program.js\n    apply: ./program.js\n' +
        '    snapshotEvery: 7\n    maxRetries: 2\n    limits: { cpuMs: 30 }\n',
    );
    const [decider] = await loadProgramDeciders(await loadManifest(file), { runtime });
    expect(decider).toMatchObject({
      type: 'account',
      snapshotEvery: 7,
      maxRetries: 2,
      limits: { cpuMs: 30, memoryMb: runtime.limits.memoryMb },
    });
  });
});
