import { ValidationError } from '../errors/index.js';

/**
 * Limits on the data that crosses into the platform: a client's command, what
 * a program returns, the state it evolves to. One set, checked at every
 * crossing (ingress, program output, commit, state after evolve), so no
 * single command, event or state can exhaust the host's stack, memory or
 * storage (SQLite refuses JSON nested over 1,000 levels; `JSON.stringify`
 * overflows the stack a few thousand levels down).
 */
export interface DataLimits {
  /** Deepest nesting of arrays and objects in any JSON value. @default 64 */
  readonly jsonDepth: number;
  /** Longest string (a value or a key), in characters. @default 262144 (256 Ki) */
  readonly stringChars: number;
  /** Largest command data, in bytes of JSON. @default 1048576 (1 MiB) */
  readonly commandBytes: number;
  /** Most events one command may produce. @default 1000 */
  readonly eventsPerCommand: number;
  /**
   * Largest total of one command's events (their types and data), in bytes
   * of JSON; with the envelopes around them a commit stays under NATS's
   * default `max_payload` of 1 MiB. @default 524288 (512 KiB)
   */
  readonly commitBytes: number;
  /** Largest aggregate state after evolve, in bytes of JSON. @default 1048576 (1 MiB) */
  readonly stateBytes: number;
}

export const DEFAULT_DATA_LIMITS: DataLimits = Object.freeze({
  jsonDepth: 64,
  stringChars: 256 * 1024,
  commandBytes: 1024 * 1024,
  eventsPerCommand: 1000,
  commitBytes: 512 * 1024,
  stateBytes: 1024 * 1024,
});

export const DATA_LIMIT_KEYS: readonly (keyof DataLimits)[] = Object.freeze([
  'jsonDepth',
  'stringChars',
  'commandBytes',
  'eventsPerCommand',
  'commitBytes',
  'stateBytes',
]);

/** Largest value a setting may raise a limit to (SQLite's JSON depth cap, NATS payloads). */
export const DATA_LIMIT_CEILINGS: Readonly<Record<keyof DataLimits, number>> = {
  jsonDepth: 512,
  stringChars: 64 * 1024 * 1024,
  commandBytes: 64 * 1024 * 1024,
  eventsPerCommand: 100_000,
  commitBytes: 64 * 1024 * 1024,
  stateBytes: 64 * 1024 * 1024,
};

/**
 * `overrides` on top of the defaults, each a positive integer up to its
 * ceiling; a bad value names its key.
 */
export function resolveDataLimits(
  overrides: Partial<Record<keyof DataLimits, number | undefined>> = {},
): DataLimits {
  const limits: Record<string, number> = { ...DEFAULT_DATA_LIMITS };
  for (const key of DATA_LIMIT_KEYS) {
    const value = overrides[key];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value < 1 || value > DATA_LIMIT_CEILINGS[key]) {
      throw new ValidationError(
        `limits.${key} must be an integer from 1 to ${DATA_LIMIT_CEILINGS[key]}, got ${String(value)}`,
        `limits.${key}`,
      );
    }
    limits[key] = value;
  }
  return Object.freeze(limits) as unknown as DataLimits;
}
