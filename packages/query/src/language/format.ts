import type { Field, Filter, Literal, SortKey } from './ast.js';

export function formatField(field: Field): string {
  return field.kind === 'row' ? field.name : `state.${field.path.join('.')}`;
}

function formatLiteral(value: Literal): string {
  return JSON.stringify(value);
}

/**
 * Prints a filter back in the language, fully parenthesised and with row and
 * state fields spelled unambiguously: `parseFilter(formatFilter(f))` equals
 * `f`, and equal filters print equally (cursors are bound to this text).
 */
export function formatFilter(filter: Filter): string {
  switch (filter.kind) {
    case 'all':
      return '';
    case 'and':
    case 'or':
      return filter.items.map((item) => `(${formatFilter(item)})`).join(` ${filter.kind} `);
    case 'not':
      return `not (${formatFilter(filter.item)})`;
    case 'compare':
      return `${formatField(filter.field)} ${filter.op} ${formatLiteral(filter.value)}`;
    case 'in':
      return `${formatField(filter.field)} in [${filter.values.map(formatLiteral).join(', ')}]`;
    case 'exists':
      return `exists(${formatField(filter.field)})`;
    case 'starts_with':
      return `${formatField(filter.field)} starts_with ${formatLiteral(filter.prefix)}`;
  }
}

export function formatSort(keys: readonly SortKey[]): string {
  return keys.map((key) => `${key.descending ? '-' : ''}${formatField(key.field)}`).join(',');
}
