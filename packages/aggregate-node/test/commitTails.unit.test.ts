import type { StoredCommit } from '@tenantfold/core';
import { heapFootprint, StreamKey, TenantId } from '@tenantfold/core';
import { describe, expect, it } from 'vitest';
import { CommitTails, MAX_TAIL_BYTES, MAX_TAILS_BYTES } from '../src/reactors/commitTails.js';

const tenant = TenantId.parse('t');
const commit = (position: number, of = tenant, payload: unknown[] = []): StoredCommit => ({
  command_id: `c-${position}`,
  stream: StreamKey.of(of, 'account', `a-${position}`),
  version: 1,
  position,
  timestamp: new Date(0).toISOString(),
  events: payload.length === 0 ? [] : [{ payload } as unknown as StoredCommit['events'][number]],
});
/** A commit of ~0.5 MiB of JSON that holds ~10 MiB of heap once parsed. */
const swollen = (position: number, of = tenant) =>
  commit(
    position,
    of,
    Array.from({ length: 160_000 }, () => ({})),
  );
const positions = (commits: readonly StoredCommit[] | undefined) => commits?.map((c) => c.position);

describe('CommitTails', () => {
  it('answers from memory only after a log read that began the tail reached the end', () => {
    const tails = new CommitTails();
    tails.appended(commit(1)); // before any pass: left to the log
    expect(tails.after(tenant, 0)).toBeUndefined();
    tails.begin(tenant);
    tails.appended(commit(3));
    expect(tails.after(tenant, 0)).toBeUndefined(); // the log read is not done yet
    tails.trust(tenant);
    tails.appended(commit(2)); // acknowledged out of order: kept in position order
    tails.appended(commit(3)); // seen twice: kept once
    expect(positions(tails.after(tenant, 0))).toEqual([2, 3]);
    expect(positions(tails.after(tenant, 2))).toEqual([3]);
  });

  it('forgets what every read model has passed, and keeps tenants apart', () => {
    const tails = new CommitTails();
    tails.begin(tenant);
    tails.trust(tenant);
    for (const p of [5, 6, 7]) tails.appended(commit(p));
    tails.appended(commit(8, TenantId.parse('other')));
    tails.trim(tenant, 6);
    expect(positions(tails.after(tenant, 0))).toEqual([7]);
  });

  it('drops a tail that grows past its bound, so the next pass reads the log', () => {
    const tails = new CommitTails();
    tails.begin(tenant);
    tails.trust(tenant);
    for (let p = 1; p <= 8_193; p++) tails.appended(commit(p));
    expect(tails.after(tenant, 0)).toBeUndefined();
  });

  it('drops a tail that would hold more than its heap bound, or all tails more than theirs', () => {
    const tails = new CommitTails();
    tails.begin(tenant);
    tails.trust(tenant);
    tails.appended(swollen(1));
    expect(positions(tails.after(tenant, 0))).toEqual([1]);
    expect(2 * heapFootprint(swollen(2))).toBeGreaterThan(MAX_TAIL_BYTES);
    tails.appended(swollen(2)); // over one tenant's bound
    expect(tails.after(tenant, 0)).toBeUndefined();
    expect(tails.bytes).toBe(0);

    const each = heapFootprint(swollen(0));
    const many = Array.from({ length: Math.floor(MAX_TAILS_BYTES / each) + 1 }, (_, i) =>
      TenantId.parse(`t${i}`),
    );
    for (const [i, other] of many.entries()) {
      tails.begin(other);
      tails.trust(other);
      tails.appended(swollen(10 + i, other));
    }
    expect(tails.bytes).toBeLessThanOrEqual(MAX_TAILS_BYTES);
    expect(tails.after(many.at(-1)!, 0)).toBeUndefined(); // the one that would pass it
    expect(positions(tails.after(many[0]!, 0))).toEqual([10]);
    tails.trim(many[0]!, 10); // frees its commit
    expect(Math.abs(tails.bytes - (many.length - 2) * each)).toBeLessThan(100 * many.length);
    for (const other of many) tails.drop(other);
    expect(tails.bytes).toBe(0);
  });
});
