import type { ComparisonOp, Field, Filter, Literal } from '../language/ast.js';
import { holds } from '../language/operators.js';
import { typeSql, valueSql } from './fieldSql.js';

export type SqlParam = string | number;

/** A WHERE fragment with its parameters, in order. */
export interface SqlFragment {
  readonly sql: string;
  readonly params: readonly SqlParam[];
}

const NUMBER_TYPES = `('integer', 'real')`;
const FALSE = '0';

/**
 * Compiles a filter to a SQL condition over the read model's row
 * (`id`, `version`, `updated_at`, JSONB `state`). Every literal is a bound
 * parameter; only validated paths are written into the text.
 *
 * The semantics are those of `matches` (evaluate.ts). SQL's NULL is tamed by
 * one invariant: every compiled condition is 1, or 0 / NULL meaning false.
 * AND and OR keep it; `not` alone would turn NULL into NULL instead of true,
 * so it negates `coalesce(inner, 0)`.
 */
export function compileFilter(filter: Filter): SqlFragment {
  const params: SqlParam[] = [];
  const bind = (value: SqlParam): string => {
    params.push(value);
    return '?';
  };

  const equalsAny = (field: Field, values: readonly Literal[]): string => {
    if (field.kind === 'row') {
      // Row fields are never null and the parser checked the literal types.
      return values.length === 0
        ? FALSE
        : `${field.name} IN (${values.map((v) => bind(v as SqlParam)).join(', ')})`;
    }
    const value = valueSql(field);
    const type = typeSql(field.path);
    const numbers = values.filter((v): v is number => typeof v === 'number');
    const strings = values.filter((v): v is string => typeof v === 'string');
    const booleans = values.filter((v): v is boolean => typeof v === 'boolean');
    const parts: string[] = [];
    if (values.includes(null)) parts.push(`${value} IS NULL`);
    if (numbers.length > 0)
      parts.push(`(${type} IN ${NUMBER_TYPES} AND ${value} IN (${numbers.map(bind).join(', ')}))`);
    if (strings.length > 0)
      parts.push(`(${type} = 'text' AND ${value} IN (${strings.map(bind).join(', ')}))`);
    if (booleans.length > 0) parts.push(booleanTypes(type, [...new Set(booleans)]));
    return parts.length === 0 ? FALSE : parts.length === 1 ? parts[0]! : `(${parts.join(' OR ')})`;
  };

  const comparison = (field: Field, op: ComparisonOp, literal: Literal): string => {
    if (op === '!=') return `NOT coalesce(${comparison(field, '=', literal)}, 0)`;
    if (op === '=') return equalsAny(field, [literal]);
    const value = valueSql(field);
    if (field.kind === 'row') return `${value} ${op} ${bind(literal as SqlParam)}`;
    const type = typeSql(field.path);
    if (typeof literal === 'number')
      return `(${type} IN ${NUMBER_TYPES} AND ${value} ${op} ${bind(literal)})`;
    if (typeof literal === 'string')
      return `(${type} = 'text' AND ${value} ${op} ${bind(literal)})`;
    if (typeof literal === 'boolean') {
      const truths = [false, true].filter((b) => holds(op, Number(b) - Number(literal)));
      return booleanTypes(type, truths);
    }
    throw new Error(`null cannot be compared with ${op}`); // the parser refuses it
  };

  const compile = (node: Filter): string => {
    switch (node.kind) {
      case 'all':
        return '1';
      case 'and':
      case 'or':
        return `(${node.items.map(compile).join(node.kind === 'and' ? ' AND ' : ' OR ')})`;
      case 'not':
        return `NOT coalesce(${compile(node.item)}, 0)`;
      case 'compare':
        return comparison(node.field, node.op, node.value);
      case 'in':
        return equalsAny(node.field, node.values);
      case 'exists':
        return node.field.kind === 'row' ? '1' : `${typeSql(node.field.path)} IS NOT NULL`;
      case 'starts_with': {
        // Compared as UTF-8 bytes: SQLite's text functions stop at a NUL character,
        // and a string starts with a prefix exactly when its UTF-8 bytes do.
        const value = valueSql(node.field);
        const length = Buffer.byteLength(node.prefix, 'utf8');
        // (substr of an empty blob is NULL, hence the empty prefix apart.)
        const prefix =
          length === 0
            ? '1'
            : `substr(CAST(${value} AS BLOB), 1, ${bind(length)}) = CAST(${bind(node.prefix)} AS BLOB)`;
        return node.field.kind === 'row'
          ? prefix
          : `(${typeSql(node.field.path)} = 'text' AND ${prefix})`;
      }
    }
  };

  const sql = compile(filter);
  return { sql, params };
}

function booleanTypes(type: string, values: readonly boolean[]): string {
  if (values.length === 0) return FALSE;
  return `${type} IN (${values.map((b) => `'${String(b)}'`).join(', ')})`;
}
