import type { Field, SortKey } from '../language/ast.js';
import type { SqlFragment, SqlParam } from '../sql/filterSql.js';
import { valueSql } from '../sql/fieldSql.js';
import type { CursorPosition } from './cursor.js';

const ID: Field = { kind: 'row', name: 'id' };

/**
 * The keys a page is really ordered by: the requested ones, then id as the
 * tiebreaker (ids are unique within a tenant and type) in the direction of
 * the last key, so `-balance` can stream backwards through a balance index.
 */
export function effectiveKeys(sort: readonly SortKey[]): readonly SortKey[] {
  const last = sort.at(-1);
  if (last?.field.kind === 'row' && last.field.name === 'id') return sort;
  return [...sort, { field: ID, descending: last?.descending ?? false }];
}

export function orderBySql(keys: readonly SortKey[]): string {
  return keys.map((k) => `${valueSql(k.field)} ${k.descending ? 'DESC' : 'ASC'}`).join(', ');
}

/**
 * The conditions selecting the rows after `cursor`, as consecutive segments
 * of the order: each is run in turn with the page's ORDER BY until the page
 * is full.
 *
 * Why segments: SQLite orders NULL (a missing state value) before everything,
 * so in a descending sort the missing values come last. A single "after the
 * cursor" condition must then say `value < ? OR value IS NULL`, which no index
 * can serve. Split at the NULL boundary of the first key, each segment's
 * condition starts with a plain range on that key (`value <= ?`) that the
 * key's expression index turns into a seek, so page N costs what page 1 does.
 */
export function afterCursor(keys: readonly SortKey[], cursor: CursorPosition): SqlFragment[] {
  const params: SqlParam[] = [];
  const bind = (value: SqlParam): string => {
    params.push(value);
    return '?';
  };
  const valueAt = (i: number): SqlParam | null =>
    i === keys.length - 1 ? cursor.id : (cursor.values[i] ?? null);

  // Rows after the cursor among those equal to it on keys before i.
  const after = (i: number): string => {
    const key = keys[i]!;
    const expr = valueSql(key.field);
    const c = valueAt(i);
    if (i === keys.length - 1) return `${expr} ${key.descending ? '<' : '>'} ${bind(c!)}`;
    const greater =
      c === null
        ? key.descending
          ? '0'
          : `${expr} IS NOT NULL`
        : key.descending
          ? `(${expr} < ${bind(c)} OR ${expr} IS NULL)`
          : `${expr} > ${bind(c)}`;
    const equal = c === null ? `${expr} IS NULL` : `${expr} = ${bind(c)}`;
    return `(${greater} OR (${equal} AND ${after(i + 1)}))`;
  };

  const segment = (build: () => string): SqlFragment => {
    params.length = 0;
    const sql = build();
    return { sql, params: [...params] };
  };

  const first = keys[0]!;
  if (keys.length === 1) return [segment(() => after(0))];
  const expr = valueSql(first.field);
  const c = valueAt(0);
  const nullable = first.field.kind === 'state';
  if (c === null) {
    const rest = segment(() => `${expr} IS NULL AND ${after(1)}`);
    return first.descending ? [rest] : [rest, segment(() => `${expr} IS NOT NULL`)];
  }
  const [range, beyond] = first.descending ? ['<=', '<'] : ['>=', '>'];
  const rest = segment(
    () =>
      `${expr} ${range} ${bind(c)} AND (${expr} ${beyond} ${bind(c)} OR (${expr} = ${bind(c)} AND ${after(1)}))`,
  );
  return first.descending && nullable ? [rest, segment(() => `${expr} IS NULL`)] : [rest];
}
