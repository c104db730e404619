import type { Filter } from '../language/ast.js';
import type { FilterTarget } from '../evaluate/evaluate.js';
import { matches } from '../evaluate/evaluate.js';

/**
 * What one commit means to a subscription: the aggregate `entered` the
 * matching set, was `updated` inside it, `left` it, or the subscription does
 * not care (`none`).
 */
export type ChangeKind = 'entered' | 'updated' | 'left' | 'none';

/**
 * Classifies an aggregate's change for a filter with the in-memory evaluator
 * (the same semantics as the SQL the initial set came from). `before` is
 * absent for a new aggregate, `after` absent when its row is gone.
 */
export function classifyChange(
  filter: Filter,
  before: FilterTarget | undefined,
  after: FilterTarget | undefined,
): ChangeKind {
  return kindOf(
    before !== undefined && matches(filter, before),
    after !== undefined && matches(filter, after),
  );
}

/** The change kind, given whether the aggregate was and is in the set. */
export function kindOf(was: boolean, is: boolean): ChangeKind {
  if (is) return was ? 'updated' : 'entered';
  return was ? 'left' : 'none';
}
