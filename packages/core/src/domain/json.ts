import { ValidationError } from '../errors/index.js';

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Largest payload accepted in one command or event, in bytes of JSON. */
export const MAX_PAYLOAD_BYTES = 1024 * 1024;

/**
 * Checks that a value is plain JSON (what survives a round trip unchanged):
 * no undefined, functions, non-finite numbers, class instances or cycles.
 */
export function assertJson(value: unknown, field: string): asserts value is JsonValue {
  const seen = new Set<object>();
  const visit = (v: unknown, path: string): void => {
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new ValidationError(`${path} is not a finite number`, field);
      return;
    }
    if (typeof v !== 'object')
      throw new ValidationError(`${path} is not JSON (${typeof v})`, field);
    if (seen.has(v)) throw new ValidationError(`${path} is a cycle`, field);
    seen.add(v);
    if (Array.isArray(v)) {
      v.forEach((item, i) => visit(item, `${path}[${i}]`));
    } else {
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto !== Object.prototype && proto !== null) {
        throw new ValidationError(`${path} is not a plain object`, field);
      }
      for (const [k, item] of Object.entries(v)) visit(item, `${path}.${k}`);
    }
    seen.delete(v);
  };
  visit(value, field);
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

export function assertPayloadSize(value: JsonValue, field: string): void {
  const bytes = Buffer.byteLength(JSON.stringify(value));
  if (bytes > MAX_PAYLOAD_BYTES) {
    throw new ValidationError(
      `${field} is ${bytes} bytes, over the limit of ${MAX_PAYLOAD_BYTES}`,
      field,
    );
  }
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
