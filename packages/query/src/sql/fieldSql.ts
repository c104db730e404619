import type { Field } from '../language/ast.js';
import { PATH_PART } from '../language/ast.js';

/**
 * The JSON path of a state field, with every part quoted: `$."owner"."name"`.
 * Paths are written into SQL text (an expression index is only used when the
 * query's expression is the index's, character for character, and a bound
 * parameter is not), so each part is checked again here: letters, digits,
 * `_` and `$` only, never a quote.
 */
export function jsonPath(path: readonly string[]): string {
  if (path.length === 0) throw new Error('a state path needs at least one part');
  for (const part of path) {
    if (!PATH_PART.test(part)) throw new Error(`unsafe state path part ${JSON.stringify(part)}`);
  }
  return `$.${path.map((part) => `"${part}"`).join('.')}`;
}

/** The SQL value of a field: a column, or the state value (SQL NULL when missing or null). */
export function valueSql(field: Field): string {
  return field.kind === 'row' ? field.name : `json_extract(state, '${jsonPath(field.path)}')`;
}

/** The JSON type of a state value: 'integer', 'real', 'text', 'true', 'false', 'null', 'array', 'object', or SQL NULL when missing. */
export function typeSql(path: readonly string[]): string {
  return `json_type(state, '${jsonPath(path)}')`;
}
