import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { CapturedRun } from '../src/testing.js';
import { runCaptured } from '../src/testing.js';

/** Names of one test's stream, subjects and bucket, so tests never share data. */
export function isolatedNames() {
  const suffix = Math.random().toString(36).slice(2, 8);
  return {
    PLACEMENTCTL_STREAM: `EVENTS_${suffix}`,
    PLACEMENTCTL_SUBJECT_PREFIX: `p${suffix}.`,
    PLACEMENTCTL_PLACEMENT_BUCKET: `PLACEMENT_${suffix}`,
  };
}

/** placementctl in this process with `env` as its whole environment. */
export function cliWith(env: Record<string, string>) {
  return (...argv: string[]): Promise<CapturedRun> => runCaptured(argv, env);
}

/** Appends one raw message to an aggregate subject: what `tenants list` counts. */
export async function appendRaw(
  nc: NatsConnection,
  prefix: string,
  tenant: string,
  id: string,
): Promise<void> {
  await jetstream(nc).publish(`${prefix}tenant.${tenant}.aggregate.account.${id}`, '{}');
}

/** Deletes a test's stream and bucket. */
export async function deleteNames(nc: NatsConnection, names: ReturnType<typeof isolatedNames>) {
  const jsm = await jetstreamManager(nc);
  for (const stream of [
    names.PLACEMENTCTL_STREAM,
    `KV_${names.PLACEMENTCTL_PLACEMENT_BUCKET}`,
    `KV_${names.PLACEMENTCTL_PLACEMENT_BUCKET}_FROZEN`,
  ]) {
    await jsm.streams.delete(stream).catch(() => undefined);
  }
}
