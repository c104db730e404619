import { ValidationError } from '@tenantfold/core';
// The parser peggy generated from grammar/filter.peggy (scripts/generate-parser.mjs;
// committed, and test/generatedParser.unit.test.ts checks it is up to date), so
// no process compiles the grammar at run time. `generated/` sits beside both
// src/ and dist/, so the same path works for both.
import {
  parse as parseGrammar,
  SyntaxError as GrammarSyntaxError,
} from '../../generated/filterParser.js';
import type { Filter, SortKey } from './ast.js';

/** Longest filter or sort text accepted, in characters. */
export const MAX_FILTER_LENGTH = 4096;
/** Deepest nesting of and / or / not accepted (SQLite caps expression depth). */
export const MAX_FILTER_DEPTH = 32;
/** Most keys in one sort. */
export const MAX_SORT_KEYS = 4;

/** A filter or sort that does not parse: where, and what the parser expected there. */
export class FilterSyntaxError extends ValidationError {
  constructor(
    field: string,
    readonly reason: string,
    readonly offset: number,
    readonly line: number,
    readonly column: number,
    options?: ErrorOptions,
  ) {
    super(`invalid ${field} at line ${line}, column ${column}: ${reason}`, field, options);
  }
  override toJSON() {
    return { ...super.toJSON(), offset: this.offset, line: this.line, column: this.column };
  }
}

function run(text: unknown, field: string, startRule: 'Filter' | 'Sort'): unknown {
  if (typeof text !== 'string') throw new ValidationError(`${field} must be a string`, field);
  if (text.length > MAX_FILTER_LENGTH) {
    throw new ValidationError(
      `${field} is ${text.length} characters long, over the limit of ${MAX_FILTER_LENGTH}`,
      field,
    );
  }
  try {
    return parseGrammar(text, { startRule }) as unknown;
  } catch (error) {
    if (error instanceof GrammarSyntaxError) {
      const { offset, line, column } = error.location.start;
      const reason = error.message.replace(/\.$/, '');
      throw new FilterSyntaxError(field, reason, offset, line, column, { cause: error });
    }
    if (error instanceof RangeError) {
      throw new ValidationError(`${field} nests too deeply`, field, { cause: error });
    }
    throw error;
  }
}

function depth(filter: Filter): number {
  switch (filter.kind) {
    case 'and':
    case 'or':
      return 1 + Math.max(...filter.items.map(depth));
    case 'not':
      return 1 + depth(filter.item);
    default:
      return 1;
  }
}

/**
 * Parses filter text (`balance > 50 and status = "open"`) into its AST; the
 * empty text is the filter that matches every row.
 * @throws ValidationError (`FilterSyntaxError` with the position) on bad input.
 */
export function parseFilter(text: unknown, field = 'filter'): Filter {
  const filter = run(text, field, 'Filter') as Filter;
  if (depth(filter) > MAX_FILTER_DEPTH) {
    throw new ValidationError(
      `${field} nests and / or / not deeper than ${MAX_FILTER_DEPTH} levels`,
      field,
    );
  }
  return filter;
}

/**
 * Parses a sort (`-balance,id`: fields in order, `-` for descending); empty
 * or absent text sorts by id.
 */
export function parseSort(text: unknown, field = 'sort'): readonly SortKey[] {
  if (text === undefined || text === null || (typeof text === 'string' && text.trim() === '')) {
    return [{ field: { kind: 'row', name: 'id' }, descending: false }];
  }
  const keys = run(text, field, 'Sort') as SortKey[];
  if (keys.length > MAX_SORT_KEYS) {
    throw new ValidationError(`${field} has ${keys.length} keys, at most ${MAX_SORT_KEYS}`, field);
  }
  const seen = new Set<string>();
  keys.forEach((key, i) => {
    const name = key.field.kind === 'row' ? key.field.name : `state.${key.field.path.join('.')}`;
    if (seen.has(name)) throw new ValidationError(`${field} names ${name} twice`, field);
    seen.add(name);
    if (name === 'id' && i < keys.length - 1) {
      throw new ValidationError(`${field}: nothing can follow id (ids are unique)`, field);
    }
  });
  return keys;
}
