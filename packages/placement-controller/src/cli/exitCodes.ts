import { isTenantfoldError } from '@tenantfold/core';
import { MigrationInFlightError, MigrationSupersededError } from '../migration/migrator.js';

/** placementctl's exit codes (the README lists them). */
export const EXIT = Object.freeze({
  /** Done. */
  OK: 0,
  /** The work ran and did not succeed: a migration rolled back, a rebalance left moves undone. */
  FAILED: 1,
  /** Bad arguments, flags or PLACEMENTCTL_* settings; nothing was changed. */
  USAGE: 2,
  /** A node, tenant, bucket or stream that does not exist (often: run `init` first). */
  NOT_FOUND: 3,
  /** A concurrent change won (CAS) or a migration of the tenant is in flight: look, then retry. */
  CONFLICT: 4,
  /** NATS or a node could not be reached. */
  UNAVAILABLE: 5,
});

export function exitCodeFor(error: unknown): number {
  if (error instanceof MigrationInFlightError || error instanceof MigrationSupersededError) {
    return EXIT.CONFLICT;
  }
  if (!isTenantfoldError(error)) return EXIT.FAILED;
  switch (error.code) {
    case 'VALIDATION':
      return EXIT.USAGE;
    case 'NOT_FOUND':
      return EXIT.NOT_FOUND;
    case 'VERSION_CONFLICT':
      return EXIT.CONFLICT;
    case 'UNAVAILABLE':
    case 'STORAGE':
    case 'STREAM':
    case 'NOT_OWNER':
      return EXIT.UNAVAILABLE;
    default:
      return EXIT.FAILED;
  }
}

/** What to do next, for errors whose message does not say it already. */
export function hintFor(error: unknown): string | undefined {
  if (!isTenantfoldError(error)) return undefined;
  switch (error.code) {
    case 'VERSION_CONFLICT':
      return 'placement changed while this ran: check `placementctl status` and run the command again';
    case 'STORAGE':
    case 'STREAM':
      return 'is nats-server up and reachable? set --nats or PLACEMENTCTL_NATS_URL';
    default:
      return undefined;
  }
}
