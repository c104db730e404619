import type { Filter } from '../language/ast.js';
import { matches } from '../evaluate/evaluate.js';
import type { StateRow } from '../readModel/types.js';
import type { ChangeKind } from './classify.js';
import { kindOf } from './classify.js';

/**
 * A subscriber's view of one filter's matching set: seeded with the initial
 * query, then fed every state notification of the type. It turns them into
 * entered / updated / left with no duplicate and no gap against the initial
 * set:
 * - subscribe to notifications first, then query; give the LiveSet the
 *   query's `position` (the tenant checkpoint when it was read);
 * - a notification at or below a version already seen is a duplicate;
 * - a notification of an aggregate outside the set, at or below `position`,
 *   is already reflected in the initial set.
 * Membership is the subscriber's own (not the sender's `before`), so a missed
 * notification cannot make it report `left` for something never entered.
 */
export class LiveSet {
  readonly #versions = new Map<string, number>();
  readonly #members = new Set<string>();

  /** @param position the initial query's `position`. */
  constructor(
    readonly filter: Filter,
    readonly position: number,
  ) {}

  /** Adds the rows of the initial set (every page of the query). */
  seed(rows: readonly StateRow[]): void {
    for (const row of rows) {
      this.#members.add(row.id);
      this.#versions.set(row.id, Math.max(row.version, this.#versions.get(row.id) ?? 0));
    }
  }

  /** Classifies an aggregate's new row; `none` for duplicates and for what does not concern the set. */
  next(row: StateRow): ChangeKind {
    const known = this.#versions.get(row.id);
    if (known !== undefined && row.version <= known) return 'none';
    if (known === undefined && row.position <= this.position && !this.#members.has(row.id)) {
      return 'none';
    }
    this.#versions.set(row.id, row.version);
    const was = this.#members.has(row.id);
    const is = matches(this.filter, row);
    if (is) this.#members.add(row.id);
    else this.#members.delete(row.id);
    return kindOf(was, is);
  }

  /** Ids in the set now. */
  members(): ReadonlySet<string> {
    return this.#members;
  }

  /** Last version seen per aggregate: what a reconnecting client sends to resume. */
  versions(): ReadonlyMap<string, number> {
    return this.#versions;
  }
}
