import { UnavailableError } from '@tenantfold/core';

interface TenantIntake {
  inFlight: number;
  closed: boolean;
  idle: Array<() => void>;
  /** When a command of the tenant last finished here (ms since the epoch); 0: never. */
  lastActivityMs: number;
}

/**
 * Per-tenant intake: counts commands in flight, and lets a drain close one
 * tenant's intake and wait for its in-flight commands to finish.
 */
export class TenantGate {
  private readonly tenants = new Map<string, TenantIntake>();
  private closedAll = false;

  /** Admits one command or throws UNAVAILABLE; call the returned function when it is done. */
  enter(tenant: string): () => void {
    const intake = this.intakeOf(tenant);
    if (this.closedAll || intake.closed) {
      throw new UnavailableError(`tenant '${tenant}' is draining on this node; retry shortly`);
    }
    intake.inFlight++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      intake.inFlight--;
      intake.lastActivityMs = Date.now();
      if (intake.inFlight === 0) for (const wake of intake.idle.splice(0)) wake();
    };
  }

  /** Stops intake for a tenant and resolves once nothing of it is in flight (or rejects at the deadline). */
  async close(tenant: string, timeoutMs: number): Promise<void> {
    const intake = this.intakeOf(tenant);
    intake.closed = true;
    await waitIdle(intake, timeoutMs, `tenant '${tenant}'`);
  }

  reopen(tenant: string): void {
    this.intakeOf(tenant).closed = false;
  }

  isClosed(tenant: string): boolean {
    return this.closedAll || this.tenants.get(tenant)?.closed === true;
  }

  /** Stops all intake (shutdown) and waits for every in-flight command. */
  async closeAll(timeoutMs: number): Promise<void> {
    this.closedAll = true;
    await Promise.all(
      [...this.tenants.entries()].map(([t, intake]) =>
        waitIdle(intake, timeoutMs, `tenant '${t}'`),
      ),
    );
  }

  inFlight(tenant?: string): number {
    if (tenant !== undefined) return this.tenants.get(tenant)?.inFlight ?? 0;
    let sum = 0;
    for (const intake of this.tenants.values()) sum += intake.inFlight;
    return sum;
  }

  /** When a command of the tenant last finished on this node, if one has since it started. */
  lastActivity(tenant: string): Date | undefined {
    const at = this.tenants.get(tenant)?.lastActivityMs ?? 0;
    return at === 0 ? undefined : new Date(at);
  }

  private intakeOf(tenant: string): TenantIntake {
    let intake = this.tenants.get(tenant);
    if (intake === undefined) {
      intake = { inFlight: 0, closed: false, idle: [], lastActivityMs: 0 };
      this.tenants.set(tenant, intake);
    }
    return intake;
  }
}

function waitIdle(intake: TenantIntake, timeoutMs: number, what: string): Promise<void> {
  if (intake.inFlight === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      intake.idle.splice(intake.idle.indexOf(done), 1);
      reject(
        new UnavailableError(
          `${what}: ${intake.inFlight} commands still in flight after ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    intake.idle.push(done);
  });
}
