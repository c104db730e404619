import type { Filter } from '../language/index.js';
import type { QueryPage, ReadModel, StateRow } from '../readModel/index.js';

/**
 * The pages of every row matching `filter`, each read when it is asked for:
 * a subscriber streams them out one at a time (a page holds at most
 * `MAX_PAGE_BYTES` of states), so the set is never all in memory at once.
 */
export function* initialPages(
  model: ReadModel,
  tenant: string,
  type: string,
  filter: Filter,
): Generator<QueryPage> {
  const first = model.query(tenant, type, { filter, limit: Number.MAX_SAFE_INTEGER });
  yield first;
  for (let cursor = first.nextCursor; cursor !== undefined;) {
    const page = model.query(tenant, type, { filter, cursor, limit: first.limit });
    yield page;
    cursor = page.nextCursor;
  }
}

/** Every row matching `filter` (all pages, read at once) and the tenant position of the first page. */
export function initialSet(
  model: ReadModel,
  tenant: string,
  type: string,
  filter: Filter,
): { rows: StateRow[]; position: number } {
  const rows: StateRow[] = [];
  let position: number | undefined;
  for (const page of initialPages(model, tenant, type, filter)) {
    position ??= page.position;
    rows.push(...page.rows);
  }
  return { rows, position: position ?? 0 };
}
