import { ValidationError } from '@tenantfold/core';

/** Parameters of `GET /v1/aggregates/:type`. */
export const QUERY_PARAMS = ['filter', 'sort', 'limit', 'cursor', 'consistency_token'] as const;
/** Parameters of `GET /v1/subscriptions/:type`. */
export const SUBSCRIBE_PARAMS = ['filter', 'consistency_token', 'resume'] as const;

const NUMBERS = new Set(['limit', 'consistency_token']);
const DIGITS = /^\d{1,16}$/;

/**
 * The body of a query or subscription from a URL's parameters: numbers as
 * numbers, `resume` (`<id>:<version>,…`) as an object. An unknown or repeated
 * parameter, or a number that is not one, is a ValidationError naming it;
 * the rest is checked with the gRPC request (queryRequests.ts).
 */
export function bodyOfParams(
  query: URLSearchParams,
  allowed: readonly string[],
): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [name, value] of query) {
    if (!allowed.includes(name)) {
      throw new ValidationError(
        `unknown query parameter '${name}' (expected ${allowed.join(', ')})`,
        name,
      );
    }
    if (name in body) throw new ValidationError(`query parameter '${name}' given twice`, name);
    body[name] = NUMBERS.has(name) ? count(value, name) : name === 'resume' ? resume(value) : value;
  }
  return body;
}

function count(value: string, name: string): number {
  if (!DIGITS.test(value)) {
    throw new ValidationError(`${name} must be a non-negative integer, got '${value}'`, name);
  }
  return Number(value);
}

/** `acc-1:4,acc-2:7` → { 'acc-1': 4, 'acc-2': 7 }; also the form of an SSE `Last-Event-ID`. */
export function resume(value: string, name = 'resume'): Record<string, number> {
  const versions: Record<string, number> = {};
  if (value === '') return versions;
  for (const entry of value.split(',')) {
    const colon = entry.lastIndexOf(':');
    if (colon <= 0) {
      throw new ValidationError(`${name} entry '${entry}' must be <aggregate id>:<version>`, name);
    }
    versions[entry.slice(0, colon)] = count(entry.slice(colon + 1), name);
  }
  return versions;
}
