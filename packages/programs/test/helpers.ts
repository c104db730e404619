import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProgramLimits, ProgramRuntime } from '@tenantfold/programs';
import { ProgramDecider } from '@tenantfold/programs';

/** examples/bank-account, from the repository root. */
export const BANK_ACCOUNT_DIR = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../../examples/bank-account',
);
export const BANK_ACCOUNT_MANIFEST = join(BANK_ACCOUNT_DIR, 'aggregates.yaml');

/** An apply half for programs whose tests are about decide. */
export const PASSIVE_APPLY = `
function evolve(state, event) { return state; }
function initialState() { return {}; }
`;

/** Temporary directories, removed by `cleanup()`. */
export class TempDirs {
  private readonly dirs: string[] = [];

  async make(prefix = 'tenantfold-programs-'): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }

  /** A directory holding these files (name → content). */
  async with(files: Readonly<Record<string, string>>): Promise<string> {
    const dir = await this.make();
    for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
    return dir;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  }
}

/** A decider of type `probe` whose decide and apply are the given source (apply defaults to a no-op). */
export function probe(
  runtime: ProgramRuntime,
  decide: string,
  options: { apply?: string; limits?: Partial<ProgramLimits>; type?: string } = {},
): Promise<ProgramDecider> {
  const code = `${decide}\n${options.apply ?? PASSIVE_APPLY}`;
  const source = { filename: 'probe.js', code };
  return ProgramDecider.load({
    type: options.type ?? 'probe',
    decide: source,
    apply: source,
    runtime,
    ...(options.limits === undefined ? {} : { limits: options.limits }),
  });
}
