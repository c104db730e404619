/**
 * The typed AST of the filter and sort language (grammar/filter.peggy). It
 * carries no positions: two filters that mean the same print the same
 * (`formatFilter`), which is what cursors are bound to.
 */

/** Columns of the read model that a filter or sort may name directly. */
export type RowFieldName = 'id' | 'version' | 'updated_at';

export type Field =
  | { readonly kind: 'row'; readonly name: RowFieldName }
  /** A dotted path into the aggregate's state; each part matches `[A-Za-z_$][A-Za-z0-9_$]*`. */
  | { readonly kind: 'state'; readonly path: readonly string[] };

export type Literal = string | number | boolean | null;

export type ComparisonOp = '=' | '!=' | '<' | '<=' | '>' | '>=';

export type Filter =
  /** The empty filter: every row. */
  | { readonly kind: 'all' }
  | { readonly kind: 'and'; readonly items: readonly Filter[] }
  | { readonly kind: 'or'; readonly items: readonly Filter[] }
  | { readonly kind: 'not'; readonly item: Filter }
  | {
      readonly kind: 'compare';
      readonly field: Field;
      readonly op: ComparisonOp;
      readonly value: Literal;
    }
  | { readonly kind: 'in'; readonly field: Field; readonly values: readonly Literal[] }
  | { readonly kind: 'exists'; readonly field: Field }
  | { readonly kind: 'starts_with'; readonly field: Field; readonly prefix: string };

export interface SortKey {
  readonly field: Field;
  readonly descending: boolean;
}

/** Matches one part of a state path; the same rule as the manifest's `query.indexes`. */
export const PATH_PART = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

export const ROW_FIELDS: readonly RowFieldName[] = ['id', 'version', 'updated_at'];
