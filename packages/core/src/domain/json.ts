import { ValidationError } from '../errors/index.js';
import type { DataLimits } from './limits.js';
import { DEFAULT_DATA_LIMITS } from './limits.js';

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Largest payload accepted in one command or event, in bytes of JSON. */
export const MAX_PAYLOAD_BYTES = DEFAULT_DATA_LIMITS.commandBytes;

/** Why a value is not acceptable JSON: where (`path` below the value) and what. */
export interface JsonProblem {
  /** `''` for the value itself, else like `.items[3].name`. */
  readonly path: string;
  readonly message: string;
  /** The limit it exceeds, when it is one (else it is not JSON at all). */
  readonly limit?: 'jsonDepth' | 'stringChars';
}

interface Visit {
  readonly value: unknown;
  readonly depth: number;
  readonly parent: Visit | undefined;
  readonly key: string | number;
}

/**
 * What makes `value` not plain JSON (what survives a round trip unchanged:
 * no undefined, functions, non-finite numbers, class instances, `toJSON`),
 * or nested deeper than `limits.jsonDepth` (a cycle is infinitely deep), or
 * holding a string longer than `limits.stringChars`. Iterative, so a value
 * nested 100,000 levels deep gets an answer, not a stack overflow.
 */
export function jsonProblem(
  value: unknown,
  limits: Pick<DataLimits, 'jsonDepth' | 'stringChars'> = DEFAULT_DATA_LIMITS,
): JsonProblem | undefined {
  // The common case (plain JSON) is checked without building a path per
  // value (a 1 MiB body of `{}` cost ~0.5 s of the node's thread that way);
  // only a value with a problem is walked again to say where.
  if (isPlainJson(value, limits)) return undefined;
  return problemWithPath(value, limits) ?? { path: '', message: 'is not plain JSON' };
}

/** Whether `value` is plain JSON within the limits: {@link jsonProblem}'s checks, no path. */
function isPlainJson(
  value: unknown,
  limits: Pick<DataLimits, 'jsonDepth' | 'stringChars'>,
): boolean {
  const values: unknown[] = [value];
  const depths: number[] = [0];
  while (values.length > 0) {
    const v = values.pop();
    const depth = depths.pop()!;
    if (v === null || typeof v === 'boolean') continue;
    if (typeof v === 'string') {
      if (v.length > limits.stringChars) return false;
      continue;
    }
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return false;
      continue;
    }
    if (typeof v !== 'object' || depth >= limits.jsonDepth) return false;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        values.push(v[i]);
        depths.push(depth + 1);
      }
      continue;
    }
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto !== Object.prototype && proto !== null) return false;
    if (Object.hasOwn(v, 'toJSON')) return false;
    for (const key in v) {
      if (key.length > limits.stringChars) return false;
      values.push((v as Record<string, unknown>)[key]);
      depths.push(depth + 1);
    }
  }
  return true;
}

/** The first problem of a value that is not plain JSON, with its path. */
function problemWithPath(
  value: unknown,
  limits: Pick<DataLimits, 'jsonDepth' | 'stringChars'>,
): JsonProblem | undefined {
  const pending: Visit[] = [{ value, depth: 0, parent: undefined, key: '' }];
  for (let visit = pending.pop(); visit !== undefined; visit = pending.pop()) {
    const v = visit.value;
    if (v === null || typeof v === 'boolean') continue;
    const problem = (message: string, limit?: JsonProblem['limit']): JsonProblem => ({
      path: pathOf(visit),
      message,
      ...(limit === undefined ? {} : { limit }),
    });
    if (typeof v === 'string') {
      if (v.length > limits.stringChars)
        return problem(
          `is a string of ${v.length} characters, over the limit of ${limits.stringChars}`,
          'stringChars',
        );
      continue;
    }
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return problem(`is not a finite number (${v})`);
      continue;
    }
    if (typeof v !== 'object') return problem(`is not JSON (${typeof v})`);
    if (visit.depth >= limits.jsonDepth)
      return problem(
        `nests deeper than the limit of ${limits.jsonDepth} levels (or is circular)`,
        'jsonDepth',
      );
    if (Object.hasOwn(v, 'toJSON')) return problem('has a toJSON property: not plain JSON');
    const depth = visit.depth + 1;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--)
        pending.push({ value: v[i] as unknown, depth, parent: visit, key: i });
      continue;
    }
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto !== Object.prototype && proto !== null) return problem('is not a plain object');
    for (const [key, item] of Object.entries(v)) {
      if (key.length > limits.stringChars)
        return problem(
          `has a key of ${key.length} characters, over the limit of ${limits.stringChars}`,
          'stringChars',
        );
      pending.push({ value: item, depth, parent: visit, key });
    }
  }
  return undefined;
}

function pathOf(visit: Visit): string {
  let path = '';
  for (let at: Visit | undefined = visit; at?.parent !== undefined; at = at.parent) {
    path = (typeof at.key === 'number' ? `[${at.key}]` : `.${at.key}`) + path;
  }
  return path.length <= 200 ? path : `${path.slice(0, 100)}…${path.slice(-60)}`;
}

/** Checks that a client's value is plain JSON within the limits (see {@link jsonProblem}). */
export function assertJson(
  value: unknown,
  field: string,
  limits: Pick<DataLimits, 'jsonDepth' | 'stringChars'> = DEFAULT_DATA_LIMITS,
): asserts value is JsonValue {
  const problem = jsonProblem(value, limits);
  if (problem !== undefined)
    throw new ValidationError(`${field}${problem.path} ${problem.message}`, field);
}

/** Longest preview of a value in an error message, in characters. */
const PREVIEW_CHARS = 120;

/**
 * A value as an error message may quote it: JSON when it is shallow and
 * plain, cut short; else what it is. Never throws (a client's value nested
 * 100,000 levels deep would overflow `JSON.stringify`).
 */
export function preview(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'string' && value.length > PREVIEW_CHARS)
    return `${JSON.stringify(value.slice(0, PREVIEW_CHARS))}…`;
  if (jsonProblem(value, { jsonDepth: 4, stringChars: PREVIEW_CHARS }) !== undefined)
    return Array.isArray(value)
      ? 'an array'
      : typeof value === 'object'
        ? 'an object'
        : typeof value;
  const text = JSON.stringify(value);
  return text.length <= PREVIEW_CHARS ? text : `${text.slice(0, PREVIEW_CHARS)}…`;
}

/** Bytes of `value` as JSON text (call after {@link jsonProblem}: its depth is bounded). */
export function jsonBytes(value: JsonValue): number {
  return Buffer.byteLength(JSON.stringify(value));
}

/** Parses JSON text, turning a syntax error into a ValidationError. */
export function parseJson(text: string, field: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (cause) {
    throw new ValidationError(`${field} is not valid JSON: ${(cause as Error).message}`, field, {
      cause,
    });
  }
}

export function assertPayloadSize(
  value: JsonValue,
  field: string,
  maxBytes: number = MAX_PAYLOAD_BYTES,
): void {
  const bytes = jsonBytes(value);
  if (bytes > maxBytes) {
    throw new ValidationError(`${field} is ${bytes} bytes, over the limit of ${maxBytes}`, field);
  }
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
