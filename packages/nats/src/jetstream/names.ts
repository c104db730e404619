import { ValidationError } from '@tenantfold/core';

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const PREFIX = /^(?:[A-Za-z0-9_-]+\.)*$/;

function invalid(key: string, value: unknown, rule: string): ValidationError {
  return new ValidationError(`invalid option ${key} ${JSON.stringify(value)}: ${rule}`, key);
}

/** A stream or KV bucket name. */
export function checkName(key: string, value: string): string {
  if (typeof value !== 'string' || !NAME.test(value))
    throw invalid(key, value, 'expected 1-64 of A-Z a-z 0-9 _ -');
  return value;
}

/** A subject prefix: empty, or tokens each followed by a dot (`test-1.`). */
export function checkPrefix(key: string, value: string): string {
  if (typeof value !== 'string' || !PREFIX.test(value))
    throw invalid(
      key,
      value,
      "expected '' or dot-terminated tokens of A-Z a-z 0-9 _ - (e.g. 'a.b.')",
    );
  return value;
}

export function checkInteger(key: string, value: number, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max)
    throw invalid(key, value, `expected an integer from ${min} to ${max}`);
  return value;
}
