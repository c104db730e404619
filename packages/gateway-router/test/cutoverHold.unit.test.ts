import { TenantId as Tenant } from '@tenantfold/core';
import type { MigrationPhase, NodeRecord } from '@tenantfold/nats';
import { createPlacement } from '@tenantfold/nats';
import { describe, expect, it } from 'vitest';
import { RetryLaterError } from '../src/errors.js';
import { CutoverHold } from '../src/holding/cutoverHold.js';
import type { HoldOutcome } from '../src/metrics/routerMetrics.js';

const node = (id: string): NodeRecord => ({
  id,
  grpcAddress: `127.0.0.1:${id.length}`,
  adminAddress: '127.0.0.1:1',
  tenantRange: id,
  weight: 1,
  status: 'active',
  heartbeatAt: '2026-01-01T00:00:00Z',
});
const acme = Tenant.parse('acme');
const other = Tenant.parse('other');

/** A placement in which `acme` is in migration phase `phase` (none: no record). */
function placement(phase?: MigrationPhase) {
  return createPlacement({
    nodes: [node('a'), node('b')],
    migrations:
      phase === undefined
        ? []
        : [[acme, { phase, from: 'a', to: 'b', epoch: 1, startedAt: '2026-01-01T00:00:00Z' }]],
  });
}

function hold(options: { limit?: number; timeoutMs?: number } = {}) {
  const outcomes: HoldOutcome[] = [];
  const held: number[] = [];
  const h = new CutoverHold({
    limit: options.limit ?? 100,
    timeoutMs: options.timeoutMs ?? 5_000,
    onHeld: (n) => held.push(n),
    onOutcome: (o) => outcomes.push(o),
  });
  return { h, outcomes, held };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('CutoverHold', () => {
  it('lets requests through at once when the tenant is not in cutover', () => {
    const { h } = hold();
    h.update(placement('WARMING'));
    expect(typeof h.admit(acme, () => 'account/1')).toBe('function');
    h.update(placement());
    expect(typeof h.admit(acme, () => 'account/1')).toBe('function');
  });

  it.each(['DRAINING', 'VERIFYING', 'SWAPPING'] as const)('holds in %s', async (phase) => {
    const { h } = hold();
    h.update(placement(phase));
    let admitted = false;
    void Promise.resolve(h.admit(acme, () => 'account/1')).then(() => (admitted = true));
    expect(typeof h.admit(other, () => 'account/1')).toBe('function'); // other tenants pass
    await tick();
    expect(admitted).toBe(false);
    expect(h.held).toBe(1);
    h.update(placement('DONE'));
    await tick();
    expect(admitted).toBe(true);
    expect(h.held).toBe(0);
  });

  it('releases one aggregate in arrival order, each after the previous is done, others in parallel', async () => {
    const { h, outcomes } = hold();
    h.update(placement('DRAINING'));
    const order: string[] = [];
    const run = async (name: string, aggregate: string) => {
      const done = await h.admit(acme, () => aggregate);
      order.push(`start ${name}`);
      await tick();
      order.push(`end ${name}`);
      done();
    };
    const all = Promise.all([run('x1', 'x'), run('y1', 'y'), run('x2', 'x'), run('x3', 'x')]);
    await tick();
    expect(order).toEqual([]);
    h.update(placement('ROLLED_BACK'));
    // Arrives during the release: queues behind the held ones of its aggregate.
    const late = run('x4', 'x');
    await Promise.all([all, late]);
    const xs = order.filter((entry) => entry.includes('x'));
    expect(xs).toEqual([
      'start x1',
      'end x1',
      'start x2',
      'end x2',
      'start x3',
      'end x3',
      'start x4',
      'end x4',
    ]);
    // y ran beside x1, not after it.
    expect(order.indexOf('start y1')).toBeLessThan(order.indexOf('end x1'));
    expect(outcomes).toEqual(['released', 'released', 'released', 'released']);
    // Once everything is done the tenant passes straight through again.
    expect(typeof h.admit(acme, () => 'x')).toBe('function');
  });

  it('refuses beyond the limit with retry-after and times out waiters', async () => {
    const { h, outcomes, held } = hold({ limit: 2, timeoutMs: 30 });
    h.update(placement('SWAPPING'));
    const waits = [h.admit(acme, () => 'a'), h.admit(acme, () => 'b')];
    expect(() => h.admit(acme, () => 'c')).toThrow(RetryLaterError);
    expect(() => h.admit(acme, () => 'c')).toThrow(/2 requests already wait/);
    for (const wait of waits) {
      await expect(wait).rejects.toThrow(/took longer than 30 ms/);
    }
    expect(outcomes).toEqual(['full', 'full', 'timeout', 'timeout']);
    expect(held).toEqual([1, 2, 1, 0]);
    // Room again after the timeouts.
    void Promise.resolve(h.admit(acme, () => 'd')).catch(() => undefined);
    expect(h.held).toBe(1);
    h.close();
  });

  it('refuses a zero limit without keeping state', () => {
    const { h } = hold({ limit: 0 });
    h.update(placement('DRAINING'));
    expect(() => h.admit(acme, () => 'a')).toThrow(RetryLaterError);
    h.update(placement());
    expect(typeof h.admit(acme, () => 'a')).toBe('function');
  });

  it('refuses what still waits when closed', async () => {
    const { h } = hold();
    h.update(placement('DRAINING'));
    const wait = h.admit(acme, () => 'a');
    h.close();
    await expect(wait).rejects.toThrow(/shutting down/);
    expect(h.held).toBe(0);
  });
});
