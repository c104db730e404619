import type { TenantId } from '@tenantfold/core';
import { isJsonObject, UnavailableError, ValidationError } from '@tenantfold/core';

/** One aggregate's last position and state hash, as the source reports it after a drain. */
export interface AggregatePosition {
  readonly type: string;
  readonly id: string;
  readonly version: number;
  /** Stream sequence of the aggregate's last commit. */
  readonly position: number;
  readonly state_hash: string;
}

/** `POST /admin/report` answer: positions while the source still serves (docs/migration.md). */
export interface PositionReport {
  /** The log's end when the report began; the next report or the drain is `after` it. */
  readonly position: number;
  readonly aggregates: readonly AggregatePosition[];
}

/** `POST /admin/drain` answer (docs/migration.md). */
export interface DrainReport {
  readonly tenant_id: string;
  readonly epoch?: number;
  readonly aggregates: readonly AggregatePosition[];
  readonly drained_at: string;
}

/** What a verify compares: the whole tenant, a report outside the hold, or the hold's delta. */
export type VerifyScope =
  | { readonly scope: 'all' }
  | { readonly scope: 'pre' }
  | { readonly scope: 'delta'; readonly after: number };

/** `POST /admin/verify` answer. */
export interface VerifyReport {
  readonly ok: boolean;
  /** `pre`: aggregates that moved on since the report. */
  readonly deferred: number;
  readonly verifiedBeforeHold: number;
  readonly verifiedInHold: number;
  readonly mismatches: ReadonlyArray<{
    readonly type: string;
    readonly id: string;
    readonly expected: unknown;
    readonly actual: unknown;
    /** What differs, in the node's words. */
    readonly reason?: string;
  }>;
}

/** A node's admin API answered with an error status (or not at all). */
export class NodeAdminError extends UnavailableError {
  constructor(
    readonly node: string,
    readonly call: string,
    message: string,
    /** HTTP status; 0 when no answer came. */
    readonly status: number,
    options?: ErrorOptions,
  ) {
    super(`node '${node}' ${call}: ${message}`, options);
  }
  override toJSON() {
    return { ...super.toJSON(), node: this.node, call: this.call, status: this.status };
  }
}

/** The node's admin base URL from its placement `adminAddress` (`host:port` or a URL). */
export function adminUrl(adminAddress: string): string {
  const base = /^https?:\/\//.test(adminAddress) ? adminAddress : `http://${adminAddress}`;
  return base.replace(/\/+$/, '');
}

/** Talks to the nodes' migration endpoints (`/admin/*`, Bearer token). */
export class NodeAdminClient {
  constructor(private readonly token: string) {}

  warm(node: NodeAddress, tenant: TenantId, epoch: number, timeoutMs: number): Promise<unknown> {
    return this.post(node, '/admin/warm', { tenant_id: tenant, epoch }, timeoutMs);
  }

  /** Source, still serving: every aggregate's position, or those committed `after` a report. */
  async report(
    node: NodeAddress,
    tenant: TenantId,
    epoch: number,
    after: number | undefined,
    timeoutMs: number,
  ): Promise<PositionReport> {
    const body = await this.post(node, '/admin/report', sinceBody(tenant, epoch, after), timeoutMs);
    if (!isJsonObject(body) || !Array.isArray(body.aggregates) || !isCount(body.position)) {
      throw new NodeAdminError(
        node.id,
        'POST /admin/report',
        'answer has no position and aggregates list',
        200,
      );
    }
    return body as unknown as PositionReport;
  }

  /** Source: stops intake and reports every aggregate, or those committed `after` a report. */
  async drain(
    node: NodeAddress,
    tenant: TenantId,
    epoch: number,
    after: number | undefined,
    timeoutMs: number,
  ): Promise<DrainReport> {
    const body = await this.post(node, '/admin/drain', sinceBody(tenant, epoch, after), timeoutMs);
    if (!isJsonObject(body) || !Array.isArray(body.aggregates)) {
      throw new NodeAdminError(node.id, 'POST /admin/drain', 'answer has no aggregates list', 200);
    }
    return body as unknown as DrainReport;
  }

  async verify(
    node: NodeAddress,
    tenant: TenantId,
    epoch: number,
    aggregates: readonly AggregatePosition[],
    scope: VerifyScope,
    timeoutMs: number,
  ): Promise<VerifyReport> {
    const body = await this.post(
      node,
      '/admin/verify',
      { tenant_id: tenant, epoch, aggregates, ...scope },
      timeoutMs,
    );
    if (!isJsonObject(body) || typeof body.ok !== 'boolean') {
      throw new NodeAdminError(node.id, 'POST /admin/verify', 'answer has no boolean ok', 200);
    }
    const count = (value: unknown) => (isCount(value) ? value : 0);
    return {
      ok: body.ok,
      deferred: count(body.deferred),
      verifiedBeforeHold: count(body.verified_before_hold),
      verifiedInHold: count(body.verified_in_hold),
      mismatches: Array.isArray(body.mismatches)
        ? (body.mismatches as unknown as VerifyReport['mismatches'])
        : [],
    };
  }

  release(node: NodeAddress, tenant: TenantId, epoch: number, timeoutMs: number): Promise<unknown> {
    return this.post(node, '/admin/release', { tenant_id: tenant, epoch }, timeoutMs);
  }

  resume(node: NodeAddress, tenant: TenantId, epoch: number, timeoutMs: number): Promise<unknown> {
    return this.post(node, '/admin/resume', { tenant_id: tenant, epoch }, timeoutMs);
  }

  /** `GET /health` (no token); false when the node does not answer 200 in time. */
  async healthy(node: NodeAddress, timeoutMs: number): Promise<boolean> {
    try {
      const res = await fetch(`${adminUrl(node.adminAddress)}/health`, {
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.body?.cancel();
      return res.ok;
    } catch {
      return false;
    }
  }

  private async post(
    node: NodeAddress,
    path: string,
    body: object,
    timeoutMs: number,
  ): Promise<unknown> {
    const call = `POST ${path}`;
    if (this.token === '') {
      throw new ValidationError(
        `${call} needs the nodes' admin token: set PLACEMENTCTL_ADMIN_TOKEN`,
        'PLACEMENTCTL_ADMIN_TOKEN',
      );
    }
    const url = `${adminUrl(node.adminAddress)}${path}`;
    const signal = AbortSignal.timeout(timeoutMs);
    const send = () =>
      fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal,
      });
    let res: Response;
    try {
      // Once more on a dropped connection (a pooled socket the node closed): every
      // migration call is idempotent for its epoch. Not after a timeout.
      res = await send().catch((error: unknown) => {
        if (signal.aborted) throw error;
        return send();
      });
    } catch (error) {
      const reason = signal.aborted
        ? `no answer within ${timeoutMs} ms`
        : `unreachable at ${node.adminAddress} (${describeFetchError(error)})`;
      throw new NodeAdminError(node.id, call, reason, 0, { cause: error });
    }
    const text = await res.text();
    let parsed: unknown = undefined;
    try {
      parsed = text === '' ? {} : (JSON.parse(text) as unknown);
    } catch {
      // keep the raw text for the message below
    }
    if (!res.ok) {
      const detail =
        isJsonObject(parsed) && typeof parsed.message === 'string'
          ? `${typeof parsed.code === 'string' ? parsed.code : res.status}: ${parsed.message}`
          : text.slice(0, 200);
      const hint = res.status === 401 ? ' (check PLACEMENTCTL_ADMIN_TOKEN)' : '';
      throw new NodeAdminError(node.id, call, `HTTP ${res.status} ${detail}${hint}`, res.status);
    }
    if (parsed === undefined) {
      throw new NodeAdminError(
        node.id,
        call,
        `answer is not JSON: ${text.slice(0, 200)}`,
        res.status,
      );
    }
    return parsed;
  }
}

/** The parts of a node record the admin client needs. */
export interface NodeAddress {
  readonly id: string;
  readonly adminAddress: string;
}

/** fetch's own message is "fetch failed"; the socket's reason is in its cause. */
function describeFetchError(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  const detail = cause instanceof Error ? cause.message : undefined;
  const message = error instanceof Error ? error.message : String(error);
  return detail === undefined ? message : `${message}: ${detail}`;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** The body of a report or drain: the whole tenant, or what changed `after` a report. */
function sinceBody(tenant: TenantId, epoch: number, after: number | undefined) {
  return { tenant_id: tenant, epoch, ...(after === undefined ? {} : { after }) };
}
