import type { AggregateStore, CommandResult, Logger, TenantId } from '@tenantfold/core';
import { isTenantfoldError, parseCommandEnvelope, StreamKey } from '@tenantfold/core';
import type { CallContext } from '@tenantfold/wire';
import { outcomeOfCode, tenantOfCall } from '@tenantfold/wire';
import type { CommandOutcome, NodeMetrics } from '../metrics/nodeMetrics.js';
import { IntakeBudget } from './intakeBudget.js';
import type { TenantGate } from './tenantGate.js';

/** Who may be served here; throws `NotOwnerError` (with the owner) for other tenants. */
export interface OwnershipCheck {
  assertOwned(tenant: TenantId): void;
}

export interface CommandHandlerOptions {
  /** The store commands run on, read per call (a node's reload replaces it). */
  readonly store: () => AggregateStore;
  readonly gate: TenantGate;
  readonly metrics: NodeMetrics;
  readonly ownership: OwnershipCheck;
  readonly logger: Logger;
  /** Whether a call without `x-tenant-id` means the default tenant. @default false */
  readonly allowDefaultTenant: boolean;
  /** Told of every command that appended a commit (read models catch up on it). */
  readonly onCommitted?: (tenant: TenantId) => void;
  /** Bytes of command bodies one tenant may have in flight here. @default 8 MiB */
  readonly intakeBytesPerTenant?: number;
}

export interface SubmitResult extends CommandResult {
  readonly command_id: string;
}

/**
 * The node's command path, independent of transport: tenant rules, ownership,
 * intake gate, then the engine; every outcome counted and logged.
 */
export class CommandHandler {
  readonly #budget: IntakeBudget;

  constructor(private readonly options: CommandHandlerOptions) {
    this.#budget = new IntakeBudget(options.intakeBytesPerTenant ?? 8 * 1024 * 1024);
  }

  /**
   * Before a transport decodes a command body of `bytes` for `tenant` (as the
   * call names it): reserves its room in the tenant's intake, or refuses with
   * UNAVAILABLE; call the returned function once the command is answered.
   */
  admit(tenant: string | undefined, bytes: number): () => void {
    return this.#budget.take(tenant ?? '', bytes);
  }

  async submit(call: CallContext, body: Record<string, unknown>): Promise<SubmitResult> {
    const started = performance.now();
    const { metrics, logger } = this.options;
    // A label only for registered types: a client's made-up type must not grow the metrics.
    let aggregateType = 'unknown';
    let tenant = call.tenant ?? '';
    let outcome: CommandOutcome = 'error';
    const log = { tenant_id: tenant, aggregate_id: body.aggregate_id, command_id: body.command_id };
    try {
      const tenantId = tenantOfCall(call, body.tenant_id, this.options.allowDefaultTenant);
      tenant = tenantId;
      this.options.ownership.assertOwned(tenantId);
      const store = this.options.store();
      const envelope = parseCommandEnvelope(
        {
          ...body,
          tenant_id: tenantId,
          correlation_id: call.correlationId ?? body.correlation_id,
          traceparent: call.traceparent,
        },
        store.options.limits,
      );
      if (store.aggregateTypes.includes(envelope.aggregate_type))
        aggregateType = envelope.aggregate_type;
      const release = this.options.gate.enter(tenant);
      try {
        const result = await store.submit(envelope);
        outcome = result.duplicate ? 'duplicate' : 'ok';
        if (!result.duplicate && result.position > 0) this.options.onCommitted?.(tenantId);
        const first = result.events[0];
        // Debug, not info: a line per command costs more CPU than most of the command.
        logger.debug(
          {
            ...log,
            tenant_id: tenant,
            command_id: envelope.command_id,
            correlation_id: first?.correlation_id ?? envelope.correlation_id,
            trace_id: first?.trace_id,
            version: result.version,
            duplicate: result.duplicate,
          },
          'command applied',
        );
        return { ...result, command_id: envelope.command_id };
      } finally {
        release();
      }
    } catch (error) {
      outcome = outcomeOf(error);
      if (outcome === 'conflict') metrics.versionConflicts.inc({ aggregate_type: aggregateType });
      metrics.tenantErrors.inc({
        tenant_id: metrics.tenants.of(tenant),
        code: isTenantfoldError(error) ? error.code : 'INTERNAL',
      });
      const level = outcome === 'error' ? 'error' : 'info';
      logger[level]({ ...log, tenant_id: tenant, err: error }, 'command failed');
      throw error;
    } finally {
      metrics.command(aggregateType, tenant, outcome, (performance.now() - started) / 1000);
    }
  }

  async getState(
    call: CallContext,
    body: Record<string, unknown>,
  ): Promise<{ state: unknown; version: number }> {
    const tenant = tenantOfCall(call, body.tenant_id, this.options.allowDefaultTenant);
    this.options.ownership.assertOwned(tenant);
    const key = StreamKey.of(tenant, String(body.aggregate_type), String(body.aggregate_id));
    return this.options.store().stateOf(key);
  }
}

function outcomeOf(error: unknown): CommandOutcome {
  return outcomeOfCode(isTenantfoldError(error) ? error.code : 'INTERNAL');
}
