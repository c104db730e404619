import type {
  CheckpointStore,
  DeadLetter,
  DeadLetterStore,
  JsonValue,
  TenantId,
} from '@tenantfold/core';
import { isJsonObject, isTenantfoldError } from '@tenantfold/core';
import type { Dispatch } from './managerDispatch.js';
import { checkpointName } from './checkpoints.js';

/** A dead letter as the admin API shows it. */
export interface TenantDeadLetter {
  readonly process_manager: string;
  readonly command_id: string;
  readonly envelope: JsonValue;
  readonly error: DeadLetter['error'];
  readonly ts: string;
}

export interface ReplayReport {
  readonly tenant_id: string;
  /** Letters sent again. */
  readonly replayed: number;
  /** Of those, the ones that succeeded (they leave the list). */
  readonly resolved: number;
  /** The ones that failed again, with today's error. */
  readonly failed: ReadonlyArray<{ command_id: string; error: DeadLetter['error'] }>;
}

/**
 * One tenant's dead letters across the process managers. The dead-letter
 * store is an append-only log per process manager; a letter whose replay
 * succeeded is recorded as resolved (by command id, in the checkpoint store
 * under `dead_letters/<manager>/<tenant>`) and no longer listed. A command
 * dead-lettered twice is listed once, with its latest error.
 */
export class TenantDeadLetters {
  constructor(
    private readonly store: DeadLetterStore,
    private readonly checkpoints: CheckpointStore,
    private readonly managers: () => readonly string[],
  ) {}

  async list(tenant: TenantId): Promise<TenantDeadLetter[]> {
    const letters: TenantDeadLetter[] = [];
    for (const manager of this.managers()) {
      const resolved = await this.resolvedOf(manager, tenant);
      const latest = new Map<string, TenantDeadLetter>();
      for (const letter of await this.store.list(manager)) {
        const envelope = letter.envelope;
        if (!isJsonObject(envelope) || envelope.tenant_id !== tenant) continue;
        if (typeof envelope.command_id !== 'string') continue;
        const commandId = envelope.command_id;
        if (resolved.has(commandId)) continue;
        latest.delete(commandId);
        latest.set(commandId, {
          process_manager: manager,
          command_id: commandId,
          envelope,
          error: letter.error,
          ts: letter.ts,
        });
      }
      letters.push(...latest.values());
    }
    return letters;
  }

  /** Sends every listed letter of the tenant again, in order; those that succeed leave the list. */
  async replay(tenant: TenantId, dispatch: Dispatch): Promise<ReplayReport> {
    const failed: Array<{ command_id: string; error: DeadLetter['error'] }> = [];
    let replayed = 0;
    let resolved = 0;
    for (const letter of await this.list(tenant)) {
      replayed++;
      try {
        await dispatch(letter.envelope as Record<string, JsonValue>);
      } catch (error) {
        failed.push({
          command_id: letter.command_id,
          error: isTenantfoldError(error)
            ? { code: error.code, message: error.message }
            : { code: 'INTERNAL', message: String(error) },
        });
        continue;
      }
      const done = await this.resolvedOf(letter.process_manager, tenant);
      done.add(letter.command_id);
      await this.checkpoints.save(checkpointName('dead_letters', letter.process_manager, tenant), {
        resolved: [...done],
      });
      resolved++;
    }
    return { tenant_id: tenant, replayed, resolved, failed };
  }

  private async resolvedOf(manager: string, tenant: TenantId): Promise<Set<string>> {
    const stored = await this.checkpoints.load(checkpointName('dead_letters', manager, tenant));
    const list = isJsonObject(stored) && Array.isArray(stored.resolved) ? stored.resolved : [];
    return new Set(list.filter((id): id is string => typeof id === 'string'));
  }
}
