import type {
  AsyncProcessManager,
  DeadLetterStore,
  EventEnvelope,
  JsonValue,
  Logger,
  ProcessManagerCommand,
  StoredCommit,
  TenantId,
} from '@tenantfold/core';
import { isTenantfoldError, processManagerEnvelope } from '@tenantfold/core';
import type { Cursor } from './checkpoints.js';
import { advance } from './checkpoints.js';

/** Sends one command envelope through the node's command path. */
export type Dispatch = (envelope: Record<string, JsonValue>) => Promise<unknown>;

export interface ManagerDispatchOptions {
  readonly dispatch: Dispatch;
  /** Where a command that failed for good is kept, for a replay. */
  readonly deadLetters: DeadLetterStore;
  readonly logger: Logger;
}

/**
 * Sends the commands a process manager asks for, commit by commit, advancing
 * its cursor; false when it must wait (a program failure, or a command that
 * cannot be sent now).
 */
export async function feedProcessManager(
  manager: AsyncProcessManager,
  cursor: Cursor,
  commits: readonly StoredCommit[],
  tenant: TenantId,
  options: ManagerDispatchOptions,
): Promise<boolean> {
  const events = commits.flatMap((c) => c.events);
  const reactions = await reactionsOf(manager, events, tenant, options.logger);
  let at = 0;
  for (const commit of commits) {
    for (const event of commit.events) {
      const commands = reactions[at++];
      if (commands === undefined) return false; // the program failed on this event
      for (const [index, command] of commands.entries()) {
        const envelope = processManagerEnvelope(manager.name, command, event, index);
        if (!(await dispatchOne(manager.name, envelope, event, options))) return false;
      }
    }
    advance(cursor, commit);
  }
  return true;
}

/** The reactions to `events`, in one batch when it can; cut short at the first failure. */
async function reactionsOf(
  manager: AsyncProcessManager,
  events: readonly EventEnvelope[],
  tenant: TenantId,
  logger: Logger,
): Promise<ReadonlyArray<readonly ProcessManagerCommand[]>> {
  if (manager.reactMany !== undefined) {
    try {
      return await manager.reactMany(events);
    } catch {
      // find the event at fault below
    }
  }
  const reactions: Array<readonly ProcessManagerCommand[]> = [];
  for (const event of events) {
    try {
      reactions.push(await manager.react(event.aggregate_type, event.aggregate_id, event));
    } catch (error) {
      logger.error(
        {
          process_manager: manager.name,
          tenant_id: tenant,
          event_id: event.event_id,
          err: error,
        },
        'process manager stopped at an event it cannot react to',
      );
      break;
    }
  }
  return reactions;
}

/**
 * Sends one command: false when it fails for a passing reason (the manager
 * waits for the next pass); a command that fails for good is dead-lettered.
 */
async function dispatchOne(
  manager: string,
  envelope: Record<string, JsonValue>,
  cause: EventEnvelope,
  options: ManagerDispatchOptions,
): Promise<boolean> {
  try {
    await options.dispatch(envelope);
    return true;
  } catch (error) {
    if (isTenantfoldError(error) && error.retryable) {
      options.logger.info(
        { process_manager: manager, tenant_id: cause.tenant_id, err: error },
        'process manager waits: its command cannot be sent now',
      );
      return false;
    }
    await options.deadLetters.append(manager, {
      envelope,
      error: isTenantfoldError(error)
        ? { code: error.code, message: error.message }
        : { code: 'INTERNAL', message: String(error) },
      ts: new Date().toISOString(),
    });
    options.logger.warn(
      { process_manager: manager, tenant_id: cause.tenant_id, command_id: envelope.command_id },
      'process manager command dead-lettered',
    );
    return true;
  }
}
