// Where a service's CPU went: reads a V8 `.cpuprofile` (from BENCH_CPU_PROF)
// and prints self time by area (nats.js, grpc-js, SQLite, the sandbox, each
// tenantfold package, Node's own modules, GC) and the hottest functions.
//
//   npm run bench:profile -- <file.cpuprofile> [more files…]
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const AREAS: ReadonlyArray<readonly [RegExp, string]> = [
  [/node_modules\/@nats-io\//, 'nats.js'],
  [/node_modules\/@grpc\//, 'grpc-js'],
  [/node_modules\/(protobufjs|@protobufjs)\//, 'protobufjs'],
  [/node_modules\/better-sqlite3\//, 'better-sqlite3'],
  [/node_modules\/isolated-vm\//, 'isolated-vm'],
  [/node_modules\/pino/, 'pino'],
  [/node_modules\/prom-client\//, 'prom-client'],
  [/packages\/([\w-]+)\//, 'tenantfold $1'],
  [/node_modules\/([\w@.-]+)\//, '$1'],
  [/^node:([\w/]+)/, 'node:$1'],
];

function areaOf(frame: ProfileNode['callFrame']): string {
  if (frame.url === '') return frame.functionName === '' ? '(native)' : frame.functionName;
  for (const [pattern, name] of AREAS) {
    const match = pattern.exec(frame.url);
    if (match !== null) return name.replace('$1', match[1] ?? '');
  }
  return 'other';
}

function summarise(file: string): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') return;
    const us = profile.timeDeltas[i] ?? 0;
    total += us;
    const area = areaOf(frame);
    areas.set(area, (areas.get(area) ?? 0) + us);
    const where =
      frame.url === ''
        ? area
        : `${area} ${frame.url.split('/').slice(-1)[0]}:${frame.lineNumber + 1}`;
    const name = `${frame.functionName === '' ? '(anonymous)' : frame.functionName} [${where}]`;
    functions.set(name, (functions.get(name) ?? 0) + us);
  });
  const rows = (map: Map<string, number>, n: number) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(
        ([name, us]) =>
          `  ${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1_000).toFixed(0).padStart(7)} ms  ${name}`,
      );
  console.log(
    `${file}: ${(total / 1_000).toFixed(0)} ms of CPU on the main thread (idle left out)`,
  );
  console.log('by area (self time):');
  console.log(rows(areas, 20).join('\n'));
  console.log('hottest functions (self time):');
  console.log(rows(functions, 30).join('\n'));
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: npm run bench:profile -- <file.cpuprofile> [more files…]');
  process.exit(2);
}
for (const file of files) summarise(file);
