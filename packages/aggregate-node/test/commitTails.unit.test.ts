import type { StoredCommit } from '@tenantfold/core';
import { StreamKey, TenantId } from '@tenantfold/core';
import { describe, expect, it } from 'vitest';
import { CommitTails } from '../src/reactors/commitTails.js';

const tenant = TenantId.parse('t');
const commit = (position: number, of = tenant): StoredCommit => ({
  command_id: `c-${position}`,
  stream: StreamKey.of(of, 'account', `a-${position}`),
  version: 1,
  position,
  timestamp: new Date(0).toISOString(),
  events: [],
});
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
});
