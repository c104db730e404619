import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { AggregateNode, loadNodeConfig } from '@tenantfold/aggregate-node';
import { silentLogger } from '@tenantfold/core';
import type { IsolatedNames as Names } from '@tenantfold/testkit';
import { streamsOf } from '@tenantfold/testkit';

export const TOKEN = 'admin-secret';

export const BANK_MANIFEST = fileURLToPath(
  new URL('../../../examples/bank-account/aggregates.yaml', import.meta.url),
);

export { isolatedNames } from '@tenantfold/testkit';
export type { Names };

/** A fresh directory for a node's state read model (`AGGREGATE_READ_MODEL_PATH`). */
export function readModelPath(): string {
  return join(mkdtempSync(join(tmpdir(), 'tenantfold-node-')), 'read-model.sqlite');
}

/** A node on loopback with free ports, the admin token, a read model in a temp dir, and `env` over the defaults. */
export function startNode(
  id: string,
  natsUrl: string,
  names: Names,
  env: Record<string, string> = {},
): Promise<AggregateNode> {
  const config = loadNodeConfig({
    AGGREGATE_NODE_ID: id,
    AGGREGATE_NATS_URL: natsUrl,
    AGGREGATE_MANIFEST: BANK_MANIFEST,
    AGGREGATE_GRPC_LISTEN: '127.0.0.1:0',
    AGGREGATE_ADMIN_LISTEN: '127.0.0.1:0',
    AGGREGATE_ADMIN_TOKEN: TOKEN,
    AGGREGATE_READ_MODEL_PATH: readModelPath(),
    ...env,
  });
  return AggregateNode.start(config, {
    logger: silentLogger,
    storage: names.storage,
    placementBucket: names.placementBucket,
    heartbeatMs: 500,
  });
}

/** Deletes the streams and buckets of `names`. */
export async function deleteStorage(nc: NatsConnection, names: Names): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const stream of streamsOf(names)) await jsm.streams.delete(stream).catch(() => undefined);
}

/** An admin call with the token; resolves to the status and the JSON body. */
export async function admin(
  node: AggregateNode,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${node.adminPort}/admin/${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A bank-account command for the gRPC client. */
export const command = (id: string, type: string, data: Record<string, unknown>) => ({
  aggregate_type: 'account',
  aggregate_id: id,
  payload_json: JSON.stringify({ type, data }),
});
