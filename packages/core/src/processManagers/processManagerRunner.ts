import { createHash } from 'node:crypto';
import type { EventEnvelope, JsonValue } from '../domain/index.js';
import { isJsonObject } from '../domain/index.js';
import { isTenantfoldError } from '../errors/index.js';
import type { EventLog } from '../eventLog/index.js';
import type { CheckpointStore, DeadLetterStore } from '../storage/index.js';
import type { Cursors } from '../projections/index.js';
import { catchUpStreams } from '../projections/index.js';
import type {
  ProcessManager,
  ProcessManagerCommand,
  ProcessManagerReport,
} from './processManager.js';

/** Sends one dispatched command into the engine (validating it on the way). */
export type Dispatch = (envelope: unknown) => Promise<unknown>;

interface Pending {
  readonly envelope: Record<string, JsonValue>;
}

/**
 * Runs one process manager pass: collects the commands its new events cause,
 * dispatches each (or dead-letters it), and only then saves the checkpoint.
 */
export class ProcessManagerRunner {
  constructor(
    readonly manager: ProcessManager,
    private readonly log: EventLog,
    private readonly checkpoints: CheckpointStore,
    private readonly deadLetters: DeadLetterStore,
  ) {}

  private get checkpointName(): string {
    return `process_managers/${this.manager.name}`;
  }

  async run(dispatch: Dispatch): Promise<ProcessManagerReport> {
    const stored = await this.checkpoints.load(this.checkpointName);
    const cursors: Cursors =
      isJsonObject(stored) && isJsonObject(stored.cursors) ? (stored.cursors as Cursors) : {};
    const pending: Pending[] = [];
    const seen = await catchUpStreams(
      this.log,
      this.manager.subscribes,
      cursors,
      (event, stream) => {
        const commands = this.manager.react(stream.type, stream.id, event);
        commands.forEach((command, index) =>
          pending.push({ envelope: this.envelopeOf(command, event, index) }),
        );
      },
    );
    let dispatched = 0;
    let deadLettered = 0;
    for (const { envelope } of pending) {
      try {
        await dispatch(envelope);
        dispatched++;
      } catch (error) {
        await this.deadLetters.append(this.manager.name, {
          envelope,
          error: isTenantfoldError(error)
            ? { code: error.code, message: error.message }
            : { code: 'INTERNAL', message: String(error) },
          ts: new Date().toISOString(),
        });
        deadLettered++;
      }
    }
    if (seen > 0) await this.checkpoints.save(this.checkpointName, { cursors });
    return { dispatched, deadLettered };
  }

  private envelopeOf(
    command: ProcessManagerCommand,
    cause: EventEnvelope,
    index: number,
  ): Record<string, JsonValue> {
    return processManagerEnvelope(this.manager.name, command, cause, index);
  }
}

/**
 * The command envelope for the index-th command a process manager asked for in
 * answer to `cause`: same tenant and correlation, a command id derived from
 * the event (so a re-dispatch is a recognised duplicate).
 */
export function processManagerEnvelope(
  manager: string,
  command: ProcessManagerCommand,
  cause: EventEnvelope,
  index: number,
): Record<string, JsonValue> {
  const ctx = command.context ?? {};
  return {
    tenant_id: cause.tenant_id,
    command_id: derivedCommandId(manager, cause.event_id, index),
    aggregate_type: command.aggregate_type,
    aggregate_id: command.instance_id,
    payload: command.command,
    metadata: {
      ...ctx.metadata,
      actor_id: ctx.actorId ?? `process-manager:${manager}`,
    },
    correlation_id: ctx.correlationId ?? cause.correlation_id,
  };
}

/** A stable UUID (version 8, name-based) for the index-th command caused by an event. */
export function derivedCommandId(manager: string, eventId: string, index: number): string {
  const hex = createHash('sha256').update(`${manager}\n${eventId}\n${index}`).digest('hex');
  const variant = ((Number.parseInt(hex[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
