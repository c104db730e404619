// The gateway router on a whole cluster: it follows a node that leaves and comes back elsewhere.
import { resolveOwner } from '@tenantfold/nats';
import { describe, expect, it } from 'vitest';
import { clients, cluster, useRouterCluster } from './support/routerCluster.js';
import { deposit, open, routersAt, servedBy, tenantOn } from './support/routerCluster.js';

useRouterCluster();

describe('node restarts', () => {
  it('follows a node that leaves and comes back on new ports, without a router restart', async () => {
    const before = await cluster.placement.load();
    const tenant = tenantOn(before, 'node-c', 'restart');
    const headers = { 'x-tenant-id': tenant };
    await clients[0]!.submit(open('acc-1'), headers);
    const oldPort = cluster.node('node-c').grpcPort;

    await cluster.stopNode('node-c'); // marks itself down: its ring tenants go elsewhere
    await routersAt((await cluster.placement.load()).revision);
    const meanwhile = await clients[1]!.submit(deposit('acc-1', 1), headers);
    expect(meanwhile.version).toBe(2);
    const stand = resolveOwner(await cluster.placement.load(), tenant);
    expect(stand).not.toBe('node-c');
    expect(await servedBy(stand!, tenant)).toBe(1);

    const back = await cluster.startNode('node-c');
    expect(back.grpcPort).not.toBe(oldPort);
    await routersAt((await cluster.placement.load()).revision);
    for (const client of clients) await client.submit(deposit('acc-1', 1), headers);
    expect(await servedBy('node-c', tenant)).toBe(2); // the restarted node's own count
  });
});
