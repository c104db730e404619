import type { JsonValue } from '@tenantfold/core';
import type { ComparisonOp, Field, Filter, Literal } from '../language/ast.js';
import { holds } from '../language/operators.js';
import { compareText } from './compareText.js';

/** What a filter is evaluated against: a row of the read model. */
export interface FilterTarget {
  readonly id: string;
  readonly version: number;
  /** ISO 8601. */
  readonly updated_at: string;
  readonly state: JsonValue;
}

const MISSING = Symbol('missing');
type Value = JsonValue | typeof MISSING;

function valueOf(field: Field, target: FilterTarget): Value {
  if (field.kind === 'row') return target[field.name];
  let value: Value = target.state;
  for (const part of field.path) {
    // Paths step through objects only: `a.b` on an array or a scalar is missing.
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return MISSING;
    if (!Object.hasOwn(value, part)) return MISSING;
    value = value[part] as JsonValue;
  }
  return value;
}

/** -1 / 0 / 1, or undefined when the two are not of the same scalar type. */
function order(value: Value, literal: Exclude<Literal, null>): number | undefined {
  if (typeof value !== typeof literal) return undefined;
  if (typeof value === 'string') return Math.sign(compareText(value, literal as string));
  if (typeof value === 'number' || typeof value === 'boolean') {
    const a = Number(value);
    const b = Number(literal);
    return a < b ? -1 : a > b ? 1 : 0;
  }
  return undefined;
}

function compare(value: Value, op: ComparisonOp, literal: Literal): boolean {
  if (literal === null) {
    const isNull = value === null || value === MISSING;
    return op === '=' ? isNull : !isNull;
  }
  if (op === '!=') return !compare(value, '=', literal);
  const sign = order(value, literal);
  return sign !== undefined && holds(op, sign);
}

/**
 * Whether `target` matches `filter`. The semantics (the SQL back end follows
 * them exactly; see the package README):
 * - a path that does not exist is *missing*; `x = null` holds for missing and
 *   null, `x != null` for everything else;
 * - `= < <= > >=` and `starts_with` hold only when the value has the literal's
 *   type (number, string, boolean); a missing value, null, an array, an object
 *   or another type makes them false;
 * - `a != v` is exactly `not (a = v)`; `a in [v, w]` is `a = v or a = w`;
 * - strings order by code point, booleans false < true;
 * - `exists(a)` holds when the path exists, even if its value is null;
 * - logic is two-valued: `not` of a false comparison is true.
 */
export function matches(filter: Filter, target: FilterTarget): boolean {
  switch (filter.kind) {
    case 'all':
      return true;
    case 'and':
      return filter.items.every((item) => matches(item, target));
    case 'or':
      return filter.items.some((item) => matches(item, target));
    case 'not':
      return !matches(filter.item, target);
    case 'compare':
      return compare(valueOf(filter.field, target), filter.op, filter.value);
    case 'in': {
      const value = valueOf(filter.field, target);
      return filter.values.some((literal) => compare(value, '=', literal));
    }
    case 'exists':
      return valueOf(filter.field, target) !== MISSING;
    case 'starts_with': {
      const value = valueOf(filter.field, target);
      return typeof value === 'string' && value.startsWith(filter.prefix);
    }
  }
}
