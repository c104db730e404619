// Compiles grammar/filter.peggy into generated/filterParser.js (ES module) and
// its .d.ts, so that no process parses a grammar at run time and peggy is a
// build tool only. `npm run generate-parser -w @tenantfold/query` after an edit
// of the grammar; test/generatedParser.unit.test.ts fails while they differ.
// Usage: node scripts/generate-parser.mjs [OUT_DIR] (default: generated/)
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const packageDir = resolve(fileURLToPath(import.meta.url), '../..');
const outDir = resolve(process.argv[2] ?? join(packageDir, 'generated'));
const peggy = fileURLToPath(import.meta.resolve('peggy/bin/peggy.js'));

const run = spawnSync(
  process.execPath,
  [
    peggy,
    '--format',
    'es',
    '--dts',
    '--allowed-start-rules',
    'Filter,Sort',
    '--output',
    join(outDir, 'filterParser.js'),
    'grammar/filter.peggy',
  ],
  { cwd: packageDir, stdio: 'inherit' },
);
process.exit(run.status ?? 1);
