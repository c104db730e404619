// @tenantfold/query/language: the filter and sort language (parser, printer,
// typed AST) and its in-memory evaluation. No SQLite, no grammar compiler:
// what a router or any client of the language loads.
export {
  parseFilter,
  parseSort,
  formatFilter,
  formatSort,
  formatField,
  FilterSyntaxError,
  MAX_FILTER_LENGTH,
  MAX_FILTER_DEPTH,
  MAX_SORT_KEYS,
} from './language/index.js';
export type {
  Filter,
  Field,
  Literal,
  ComparisonOp,
  SortKey,
  RowFieldName,
} from './language/index.js';
export { matches } from './evaluate/index.js';
export type { FilterTarget } from './evaluate/index.js';
