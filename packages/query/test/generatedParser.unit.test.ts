import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

it('the committed parser is what peggy makes of grammar/filter.peggy (else: npm run generate-parser -w @tenantfold/query)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'filter-parser-'));
  try {
    const run = spawnSync(process.execPath, ['scripts/generate-parser.mjs', dir], {
      cwd: PACKAGE_DIR,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    for (const file of ['filterParser.js', 'filterParser.d.ts']) {
      const committed = readFileSync(join(PACKAGE_DIR, 'generated', file), 'utf8');
      expect(committed === readFileSync(join(dir, file), 'utf8'), `generated/${file}`).toBe(true);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
