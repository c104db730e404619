// Each package as a user installs it: built (`npm run build`), packed with
// `npm pack`, unpacked alone into node_modules/@tenantfold/<name> of a temp
// directory, with only the third-party packages the packed ones declare linked
// in from this checkout (no network, no native build). A file a package reads
// at run time but does not ship (`files` in its package.json) fails here.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface PackedPackage {
  readonly name: string;
  readonly filename: string;
}

interface Manifest {
  readonly exports: Record<string, unknown>;
  readonly dependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
}

function runOrThrow(command: string, args: string[], cwd: string): string {
  const run = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 150_000 });
  if (run.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited ${run.status}: ${run.stderr}`);
  }
  return run.stdout;
}

/** Imports every entry of the package named by argv[1]; wire also loads the gRPC contract. */
const LOAD_ENTRIES = `
  import { readFileSync } from 'node:fs';
  const name = process.argv[1];
  const manifest = JSON.parse(readFileSync('node_modules/' + name + '/package.json', 'utf8'));
  for (const subpath of Object.keys(manifest.exports)) {
    const entry = await import(name + subpath.slice(1));
    if (name === '@tenantfold/wire' && subpath === '.') {
      entry.commandServiceClient();
      entry.queryServiceClient();
    }
  }
`;

function loadEntries(dir: string, name: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--no-node-snapshot', '--input-type=module', '--eval', LOAD_ENTRIES, name],
      { cwd: dir, env: { PATH: process.env.PATH } },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('exit', (code) => resolve(code === 0 ? undefined : `${name}: ${stderr.trim()}`));
  });
}

it('every package, packed and installed on its own, loads each of its entries (wire: its gRPC contract too)', async () => {
  runOrThrow(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-b'], ROOT);
  const dir = mkdtempSync(join(tmpdir(), 'tenantfold-packed-'));
  try {
    const packed = JSON.parse(
      runOrThrow('npm', ['pack', '--workspaces', '--json', '--pack-destination', dir], ROOT),
    ) as PackedPackage[];
    expect(packed.length).toBeGreaterThan(0);

    const thirdParty = new Set<string>();
    for (const { name, filename } of packed) {
      const target = join(dir, 'node_modules', name);
      mkdirSync(target, { recursive: true });
      runOrThrow('tar', ['-xzf', join(dir, filename), '--strip-components=1', '-C', target], dir);
      const manifest = JSON.parse(readFileSync(join(target, 'package.json'), 'utf8')) as Manifest;
      for (const dependency of Object.keys({
        ...manifest.dependencies,
        ...manifest.peerDependencies,
      })) {
        if (!dependency.startsWith('@tenantfold/')) thirdParty.add(dependency);
      }
    }
    for (const dependency of thirdParty) {
      const link = join(dir, 'node_modules', dependency);
      mkdirSync(dirname(link), { recursive: true });
      symlinkSync(join(ROOT, 'node_modules', dependency), link);
    }

    const failures = await Promise.all(packed.map(({ name }) => loadEntries(dir, name)));
    expect(failures.filter((failure) => failure !== undefined)).toEqual([]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 180_000);
