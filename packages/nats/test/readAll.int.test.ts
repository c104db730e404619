import type { NatsConnection } from '@nats-io/transport-node';
import type { StreamKey } from '@tenantfold/core';
import { AggregateType, StreamKey as Key, TenantId, ValidationError } from '@tenantfold/core';
import { commitOf } from '@tenantfold/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIRECT_READ_LIMIT } from '../src/jetstream/index.js';
import { JetStreamEventLog } from '../src/index.js';
import type { TestNames } from './fixture.js';
import { collect, connectToTestServer, removeAll, uniqueNames } from './fixture.js';

// The stream-wide read the node's projections and process managers catch up with.
describe('JetStreamEventLog.readAll', () => {
  let names: TestNames;
  let nc: NatsConnection;
  let log: JetStreamEventLog;
  const acme = TenantId.parse('acme');
  const key = (tenant: string, type: string, id: string): StreamKey => Key.of(tenant, type, id);
  const versions = new Map<string, number>();
  const positions: Array<{ key: StreamKey; position: number }> = [];

  async function append(k: StreamKey): Promise<void> {
    const name = Key.toString(k);
    const version = (versions.get(name) ?? 0) + 1;
    const last = positions.filter((p) => Key.toString(p.key) === name).at(-1)?.position ?? 0;
    const { commit } = await log.append(commitOf(k, version), last);
    versions.set(name, version);
    positions.push({ key: k, position: commit.position });
  }

  beforeAll(async () => {
    names = uniqueNames();
    nc = await connectToTestServer();
    log = await JetStreamEventLog.open({
      nc,
      streamName: names.streamName,
      subjectPrefix: names.subjectPrefix,
    });
    // Interleaved commits of two tenants and two types; more than a direct read handles.
    for (let i = 0; i < DIRECT_READ_LIMIT + 4; i++) {
      await append(key('acme', 'account', `a-${i % 3}`));
      await append(key('other', 'account', 'a-0'));
      if (i % 2 === 0) await append(key('acme', 'audit', `x-${i % 2}`));
    }
  });
  afterAll(async () => {
    await log.close();
    await nc.close();
    await removeAll(names);
  });

  const expected = (keep: (k: StreamKey) => boolean, after = 0) =>
    positions.filter((p) => keep(p.key) && p.position > after).map((p) => p.position);

  it("reads a tenant's commits of every aggregate in stream order, from a position", async () => {
    const all = await collect(log.readAll({ tenant: acme }));
    expect(all.map((c) => c.position)).toEqual(expected((k) => k.tenant === acme));
    expect(all.length).toBeGreaterThan(DIRECT_READ_LIMIT); // the consumer path
    const from = all[5]!.position;
    const rest = await collect(log.readAll({ tenant: acme }, from));
    expect(rest.map((c) => c.position)).toEqual(expected((k) => k.tenant === acme, from));
    const tail = await collect(log.readAll({ tenant: acme }, all.at(-2)!.position));
    expect(tail).toHaveLength(1); // the direct-get path
    expect(tail[0]?.stream).toEqual(all.at(-1)?.stream);
  });

  it('filters by one type, by several, and across tenants', async () => {
    const account = AggregateType.parse('account');
    const audit = AggregateType.parse('audit');
    const oneType = await collect(log.readAll({ tenant: acme, types: [audit] }));
    expect(oneType.map((c) => c.position)).toEqual(
      expected((k) => k.tenant === acme && k.type === 'audit'),
    );
    const both = await collect(log.readAll({ tenant: acme, types: [account, audit] }));
    expect(both.map((c) => c.position)).toEqual(expected((k) => k.tenant === acme));
    const everyone = await collect(log.readAll({ types: [account] }));
    expect(everyone.map((c) => c.position)).toEqual(expected((k) => k.type === 'account'));
    expect(await collect(log.readAll({ tenant: acme, types: [] }))).toEqual([]);
    expect(await collect(log.readAll({ tenant: acme }, positions.at(-1)!.position))).toEqual([]);
  });

  it('refuses a negative position', async () => {
    await expect(collect(log.readAll({}, -1))).rejects.toThrow(ValidationError);
  });
});
