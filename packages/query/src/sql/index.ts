export { compileFilter } from './filterSql.js';
export type { SqlFragment, SqlParam } from './filterSql.js';
export { jsonPath, valueSql, typeSql } from './fieldSql.js';
