import type { EventLog, TenantId } from '@tenantfold/core';
import { TenantId as Tenant, ValidationError } from '@tenantfold/core';
import type { PlacementOwnership } from '../intake/placementOwnership.js';
import type { TenantGate } from '../intake/tenantGate.js';
import type { TenantMigration } from '../migration/index.js';
import { parseSinceRequest, parseTenantRequest, parseVerifyRequest } from '../migration/index.js';
import type { StateLog, StateReadModel } from '../queries/stateReadModel.js';
import type { Dispatch, ReadModelRunner, TenantDeadLetters } from '../reactors/index.js';
import type { AdminRequest } from './adminServer.js';

/** What the `/admin` routes act on. */
export interface AdminParts {
  readonly migration: TenantMigration;
  readonly deadLetters: TenantDeadLetters;
  readonly dispatch: Dispatch;
  readonly states: StateReadModel;
  readonly stateLog: () => StateLog;
  readonly ownership: PlacementOwnership;
  readonly gate: TenantGate;
  /** The event log behind the NATS breaker, as the engine's store reads it. */
  readonly eventLog: EventLog;
  /** The current engine's reactors. */
  readonly readModels: () => ReadModelRunner;
  readonly storedTenants: () => Promise<TenantId[]>;
  readonly reload: () => Promise<unknown>;
}

/** The node's `/admin/...` routes (method + path without `/admin`). */
export function adminRoutes(
  parts: AdminParts,
): Record<string, (request: AdminRequest) => Promise<unknown>> {
  const { migration, deadLetters, dispatch, states, stateLog, ownership } = parts;
  const tenantOfQuery = (request: AdminRequest): TenantId => {
    const tenant = request.query.get('tenant_id');
    if (tenant === null)
      throw new ValidationError('query parameter tenant_id is required', 'tenant_id');
    return Tenant.parse(tenant, 'tenant_id');
  };
  return {
    'GET /tenants': () => tenants(parts),
    'POST /warm': ({ body }) => migration.warm(parseTenantRequest(body, true)),
    'POST /report': ({ body }) => migration.report(parseSinceRequest(body, true)),
    'POST /drain': ({ body }) => migration.drain(parseSinceRequest(body, false)),
    'POST /verify': ({ body }) => migration.verify(parseVerifyRequest(body)),
    'POST /release': ({ body }) => migration.release(parseTenantRequest(body, true)),
    'POST /resume': ({ body }) =>
      Promise.resolve(migration.resume(parseTenantRequest(body, false))),
    'POST /reload': () => parts.reload(),
    'GET /read-model': () =>
      Promise.resolve({ path: states.path, tenants: states.model.tenants() }),
    'POST /read-model/rebuild': ({ body }) => rebuildStates(parts, body),
    'GET /quarantine': (request) => {
      const tenant = request.query.get('tenant_id');
      const rows = states.quarantined(
        tenant === null ? undefined : Tenant.parse(tenant, 'tenant_id'),
      );
      return Promise.resolve({ quarantined: rows });
    },
    'POST /quarantine/release': ({ body }) => {
      const given = (body as { tenant_id?: unknown }).tenant_id;
      const tenant = given === undefined ? undefined : Tenant.parse(given, 'tenant_id');
      return states.release(tenant, stateLog());
    },
    'GET /projections/*': (request) => {
      const tenant = tenantOfQuery(request);
      ownership.assertOwned(tenant);
      return parts.readModels().projection(request.param ?? '', tenant);
    },
    'GET /dead-letters': async (request) => {
      const tenant = tenantOfQuery(request);
      return { tenant_id: tenant, dead_letters: await deadLetters.list(tenant) };
    },
    'POST /dead-letters/replay': ({ body }) => {
      const { tenant } = parseTenantRequest(body, false);
      ownership.assertOwned(tenant);
      return deadLetters.replay(tenant, dispatch);
    },
  };
}

/** `GET /admin/tenants`: owned tenants with aggregates in storage: aggregate count, in flight, last command here. */
async function tenants(parts: AdminParts): Promise<
  Array<{
    tenant_id: string;
    aggregates: number;
    in_flight: number;
    last_activity: string | null;
  }>
> {
  const { eventLog, ownership, gate } = parts;
  const counts = new Map<TenantId, number>();
  for await (const key of eventLog.streams()) {
    if (ownership.owns(key.tenant)) counts.set(key.tenant, (counts.get(key.tenant) ?? 0) + 1);
  }
  return [...counts].map(([tenant, aggregates]) => ({
    tenant_id: tenant,
    aggregates,
    in_flight: gate.inFlight(tenant),
    last_activity: gate.lastActivity(tenant)?.toISOString() ?? null,
  }));
}

/**
 * `POST /admin/read-model/rebuild {tenant_id?}`: rebuilds the state rows of
 * one owned tenant, or of every owned tenant, from the event log.
 */
async function rebuildStates(
  parts: AdminParts,
  body: unknown,
): Promise<{ tenants: Array<{ tenant_id: string; rows: number }> }> {
  const requested =
    body === undefined || body === null || (body as { tenant_id?: unknown }).tenant_id === undefined
      ? undefined
      : parseTenantRequest(body, false).tenant;
  const { ownership, states, stateLog } = parts;
  if (requested !== undefined) ownership.assertOwned(requested);
  const tenants =
    requested === undefined
      ? (await parts.storedTenants()).filter((tenant) => ownership.owns(tenant))
      : [requested];
  const rebuilt = [];
  for (const tenant of tenants) {
    const { rows } = await states.rebuild(tenant, stateLog());
    rebuilt.push({ tenant_id: tenant, rows });
  }
  return { tenants: rebuilt };
}
