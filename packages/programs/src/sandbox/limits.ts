import { ValidationError } from '@tenantfold/core';

/** What one program may use. Both limits are enforced by isolated-vm inside the isolate. */
export interface ProgramLimits {
  /**
   * Longest one call (decide, evolve, initialState) may run, in milliseconds.
   * isolated-vm enforces it as a deadline on the isolate's own thread, started
   * when the call begins to run (time spent queued behind other calls does not
   * count), so it bounds the CPU time a call can take; under heavy CPU
   * contention a call can be stopped before it has had that much CPU.
   * @default 200 ms
   */
  readonly cpuMs: number;
  /**
   * Heap limit of each of the program's isolates, in MB (isolated-vm's `memoryLimit`;
   * minimum 8). A call that allocates past it is stopped, and its isolate (only) is
   * disposed and recreated before the next call.
   * @default 64 MB
   */
  readonly memoryMb: number;
}

export const DEFAULT_PROGRAM_LIMITS: ProgramLimits = Object.freeze({ cpuMs: 200, memoryMb: 64 });

/** Accepted range of each limit, inclusive. */
export const PROGRAM_LIMIT_RANGES: Readonly<
  Record<keyof ProgramLimits, { readonly min: number; readonly max: number; readonly unit: string }>
> = Object.freeze({
  cpuMs: { min: 1, max: 60_000, unit: 'ms' },
  memoryMb: { min: 8, max: 8_192, unit: 'MB' },
});

export const PROGRAM_LIMIT_KEYS: readonly (keyof ProgramLimits)[] = ['cpuMs', 'memoryMb'];

/** What is wrong with a limit value, or undefined when it is fine. */
export function limitProblem(key: keyof ProgramLimits, value: unknown): string | undefined {
  const { min, max, unit } = PROGRAM_LIMIT_RANGES[key];
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) {
    return undefined;
  }
  return `expected an integer from ${min} to ${max} (${unit}), got ${JSON.stringify(value)}`;
}

/** `override` on top of `base`, every value checked. */
export function resolveLimits(
  base: ProgramLimits,
  override: Partial<ProgramLimits> = {},
  field = 'limits',
): ProgramLimits {
  const limits = { ...base };
  for (const key of PROGRAM_LIMIT_KEYS) {
    const value = override[key] ?? base[key];
    const problem = limitProblem(key, value);
    if (problem !== undefined) {
      throw new ValidationError(`${field}.${key}: ${problem}`, `${field}.${key}`);
    }
    limits[key] = value;
  }
  return Object.freeze(limits);
}
