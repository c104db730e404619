export { parseFilter, parseSort, FilterSyntaxError } from './parse.js';
export { MAX_FILTER_LENGTH, MAX_FILTER_DEPTH, MAX_SORT_KEYS } from './parse.js';
export { formatFilter, formatSort, formatField } from './format.js';
export type { Filter, Field, Literal, ComparisonOp, SortKey, RowFieldName } from './ast.js';
