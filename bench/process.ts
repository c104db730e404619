// Services as their own processes, as deployed, so that the CPU each one
// spends per command can be read from /proc; and that reading.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { http } from '../test/support/clients.js';

/** `/proc/<pid>/stat` counts CPU time in clock ticks (USER_HZ, 100 on Linux). */
const CLOCK_TICKS_PER_S = 100;

/** CPU time (user + system, all threads) process `pid` has used, in ms; Linux /proc. */
export function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * (1_000 / CLOCK_TICKS_PER_S);
}

/**
 * Where `BENCH_CPU_PROF` asks for profiles: each service then runs with
 * `--cpu-prof` and writes `<dir>/<name>/*.cpuprofile` when it stops (read
 * them with `npm run bench:profile -- <file>`).
 */
const PROFILE_DIR = process.env.BENCH_CPU_PROF?.trim() ?? '';

export interface ServiceProcess {
  readonly pid: number;
  cpuMs(): number;
  stop(): Promise<void>;
}

/**
 * Runs a service's `main.ts` (`packages/<pkg>/src/main.ts`) as a child
 * process with `env`; resolves once `GET http://127.0.0.1:<readyPort>/ready`
 * answers 200.
 */
export async function startService(options: {
  readonly name: string;
  readonly main: string;
  readonly env: Readonly<Record<string, string>>;
  readonly readyPort: number;
}): Promise<ServiceProcess> {
  const main = fileURLToPath(new URL(`../packages/${options.main}`, import.meta.url));
  // One folder per service: Node writes a profile per thread (main, module loader).
  const profile =
    PROFILE_DIR === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}/${options.name}`];
  const child = spawn(
    process.execPath,
    ['--no-node-snapshot', ...profile, '--conditions=source', '--import', 'tsx', main],
    { env: { ...process.env, ...options.env }, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`${options.name} exited with ${code}`))),
  );
  const ready = (async () => {
    for (;;) {
      const answer = await http(options.readyPort, 'GET', '/ready').catch(() => undefined);
      if (answer?.status === 200) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  await Promise.race([ready, exited]);
  exited.catch(() => undefined);
  const pid = child.pid!;
  return {
    pid,
    cpuMs: () => cpuMsOf(pid),
    stop: () =>
      new Promise<void>((resolve) => {
        child.removeAllListeners('exit');
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** CPU per operation of each process over one measured stretch, in µs. */
export class CpuMeter {
  readonly #spent = new Map<string, { ms: number; ops: number }>();

  constructor(private readonly processes: Readonly<Record<string, () => number>>) {}

  /** Runs `measure`, charging each process's CPU over it to `key` per operation it reports. */
  async charge<T extends { readonly ops: number }>(
    key: (process: string) => string,
    measure: () => Promise<T>,
  ): Promise<T> {
    const before = Object.entries(this.processes).map(([name, cpu]) => [name, cpu()] as const);
    const result = await measure();
    for (const [name, at] of before) {
      const entry = this.#spent.get(key(name)) ?? { ms: 0, ops: 0 };
      entry.ms += this.processes[name]!() - at;
      entry.ops += result.ops;
      this.#spent.set(key(name), entry);
    }
    return result;
  }

  /** µs per operation for each key charged. */
  perOp(): Map<string, number> {
    return new Map(
      [...this.#spent].map(([key, { ms, ops }]) => [
        key,
        ops === 0 ? 0 : Math.round((ms * 1_000) / ops),
      ]),
    );
  }
}
