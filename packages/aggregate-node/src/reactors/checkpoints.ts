import type {
  AsyncProcessManager,
  AsyncProjection,
  CheckpointStore,
  JsonValue,
  StoredCommit,
} from '@tenantfold/core';
import { isJsonObject, TenantId } from '@tenantfold/core';
import type { SkippedCommit } from './skippedCommits.js';
import { skippedOf } from './skippedCommits.js';

/** Where one read model of one tenant stands. */
export interface Cursor {
  position: number;
  /** Projections only: the folded document. */
  state?: JsonValue;
  /** Projections only: commits it could not fold, newest last. */
  skipped?: SkippedCommit[];
  /** Unsaved progress. */
  dirty: boolean;
}

/** The cursors of one tenant's projections and process managers, by name. */
export interface TenantModels {
  readonly projections: Map<string, Cursor>;
  readonly managers: Map<string, Cursor>;
  /** When its checkpoints were last saved (ms since the epoch). */
  savedAt: number;
  /** A later save is scheduled. */
  saveDue: boolean;
}

/** KV key of one read model's checkpoint for one tenant. */
export function checkpointName(section: string, name: string, tenant: TenantId): string {
  return `${section}/${name}/${TenantId.token(tenant)}`;
}

/** Moves the cursor past `commit` (marked unsaved); never back. */
export function advance(cursor: Cursor, commit: StoredCommit | undefined): void {
  if (commit === undefined || commit.position <= cursor.position) return;
  cursor.position = commit.position;
  cursor.dirty = true;
}

/** Reads a tenant's cursors from their checkpoints (from the start where there are none). */
export async function loadTenantModels(
  checkpoints: CheckpointStore,
  tenant: TenantId,
  programs: {
    readonly projections: readonly AsyncProjection<JsonValue>[];
    readonly processManagers: readonly AsyncProcessManager[];
  },
): Promise<TenantModels> {
  const load = async (name: string, initial?: () => JsonValue): Promise<Cursor> => {
    const stored = await checkpoints.load(name);
    if (isJsonObject(stored) && typeof stored.position === 'number') {
      return {
        position: stored.position,
        dirty: false,
        ...(initial === undefined
          ? {}
          : { state: stored.state ?? initial(), skipped: skippedOf(stored) }),
      };
    }
    return { position: 0, dirty: false, ...(initial === undefined ? {} : { state: initial() }) };
  };
  const models: TenantModels = {
    projections: new Map(),
    managers: new Map(),
    savedAt: 0,
    saveDue: false,
  };
  for (const p of programs.projections) {
    models.projections.set(
      p.name,
      await load(checkpointName('projections', p.name, tenant), () => p.initialState()),
    );
  }
  for (const m of programs.processManagers) {
    models.managers.set(m.name, await load(checkpointName('process_managers', m.name, tenant)));
  }
  return models;
}

/** Writes the checkpoints of the cursors with unsaved progress. */
export async function saveTenantModels(
  checkpoints: CheckpointStore,
  tenant: TenantId,
  models: TenantModels,
): Promise<void> {
  models.savedAt = Date.now();
  for (const [name, cursor] of models.projections) {
    if (!cursor.dirty) continue;
    await checkpoints.save(checkpointName('projections', name, tenant), {
      position: cursor.position,
      state: cursor.state ?? null,
      ...(cursor.skipped === undefined || cursor.skipped.length === 0
        ? {}
        : { skipped: cursor.skipped as unknown as JsonValue }),
    });
    cursor.dirty = false;
  }
  for (const [name, cursor] of models.managers) {
    if (!cursor.dirty) continue;
    await checkpoints.save(checkpointName('process_managers', name, tenant), {
      position: cursor.position,
    });
    cursor.dirty = false;
  }
}
