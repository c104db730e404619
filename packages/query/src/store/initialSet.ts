import type { Filter } from '../language/index.js';
import type { ReadModel, StateRow } from '../readModel/index.js';

/** Every row matching `filter` (all pages) and the tenant position of the first page. */
export function initialSet(
  model: ReadModel,
  tenant: string,
  type: string,
  filter: Filter,
): { rows: StateRow[]; position: number } {
  const first = model.query(tenant, type, { filter, limit: Number.MAX_SAFE_INTEGER });
  const rows = [...first.rows];
  for (let cursor = first.nextCursor; cursor !== undefined;) {
    const page = model.query(tenant, type, { filter, cursor, limit: first.limit });
    rows.push(...page.rows);
    cursor = page.nextCursor;
  }
  return { rows, position: first.position };
}
