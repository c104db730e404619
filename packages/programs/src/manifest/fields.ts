import type { ManifestIssue } from './manifestError.js';

/** Collects every problem found, so one error can report them all. */
export class Issues {
  readonly list: ManifestIssue[] = [];

  add(field: string, message: string): undefined {
    this.list.push({ field, message });
    return undefined;
  }

  get empty(): boolean {
    return this.list.length === 0;
  }
}

export type Mapping = Readonly<Record<string, unknown>>;

export function fieldPath(parent: string, key: string): string {
  return parent === '' ? key : `${parent}.${key}`;
}

/** How a value reads in an error message. */
export function describeValue(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object' && value !== null) return 'a mapping';
  return JSON.stringify(value) ?? String(value);
}

export function isMapping(value: unknown): value is Mapping {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** YAML `key:` with nothing after it is null: treat it as absent. */
export function absent(value: unknown): value is null | undefined {
  return value === undefined || value === null;
}

/**
 * A mapping with only `allowed` keys and every `required` one. Unknown and
 * missing keys are reported; the mapping is returned unless it is not one.
 */
export function readMapping(
  value: unknown,
  field: string,
  issues: Issues,
  shape: { readonly allowed: readonly string[]; readonly required?: readonly string[] },
): Mapping | undefined {
  if (!isMapping(value)) {
    return issues.add(field, `expected a mapping, got ${describeValue(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!shape.allowed.includes(key)) {
      issues.add(
        fieldPath(field, key),
        `unknown field (expected one of: ${shape.allowed.join(', ')})`,
      );
    }
  }
  for (const key of shape.required ?? []) {
    if (absent(value[key])) issues.add(fieldPath(field, key), 'required field is missing');
  }
  return value;
}

export function readInteger(
  value: unknown,
  field: string,
  issues: Issues,
  range: { readonly min: number; readonly max: number },
): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) {
    if (value >= range.min && value <= range.max) return value;
  }
  return issues.add(
    field,
    `expected an integer from ${range.min} to ${range.max}, got ${describeValue(value)}`,
  );
}

export function readString(value: unknown, field: string, issues: Issues): string | undefined {
  if (typeof value === 'string' && value.trim() !== '') return value;
  return issues.add(field, `expected a non-empty string, got ${describeValue(value)}`);
}
