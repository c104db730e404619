import { ValidationError, VersionConflictError } from '@tenantfold/core';

/**
 * A CAS write lost: the key was not at the expected revision. Retry by reading
 * the key again (or the next watch snapshot) and deciding afresh.
 */
export class PlacementConflictError extends VersionConflictError {
  /**
   * @param expected revision the write expected (0 = key absent)
   * @param actual revision found right after the conflict (0 = absent, -1 = could not be read)
   */
  constructor(
    readonly key: string,
    expected: number,
    actual: number,
    options?: ErrorOptions,
  ) {
    super(expected, actual, options);
    const found =
      actual === -1 ? 'an unknown revision' : actual === 0 ? 'no entry' : `revision ${actual}`;
    const wanted = expected === 0 ? 'no entry' : `revision ${expected}`;
    this.message = `placement key '${key}' changed concurrently: expected ${wanted}, found ${found}`;
  }
  override toJSON() {
    return { ...super.toJSON(), key: this.key };
  }
}

/** A stored placement value that cannot be read (bad JSON, invalid field, unknown key). */
export class PlacementEntryError extends ValidationError {
  constructor(
    readonly key: string,
    readonly revision: number,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`placement key '${key}' (revision ${revision}): ${reason}`, key, options);
  }
  override toJSON() {
    return { ...super.toJSON(), key: this.key, revision: this.revision };
  }
}
