import type { NatsConnection } from '@nats-io/transport-node';
import type { StorageBackend } from '@tenantfold/core';
import { connectNats } from '../connection/index.js';
import { JetStreamDeadLetterStore } from '../deadLetters/index.js';
import { natsCall } from '../errors/index.js';
import { JetStreamEventLog } from '../eventLog/index.js';
import { KvCheckpointStore, KvSnapshotStore } from '../kv/index.js';
import type { JetStreamBackendOptions } from './options.js';
import { resolveBackendOptions } from './options.js';

/** The engine's storage on NATS: commits and dead letters on streams, snapshots and checkpoints in KV. */
export interface JetStreamBackend extends StorageBackend {
  readonly eventLog: JetStreamEventLog;
  readonly snapshots: KvSnapshotStore;
  readonly checkpoints: KvCheckpointStore;
  readonly deadLetters: JetStreamDeadLetterStore;
  /** The connection in use (the caller's, or the backend's own). */
  readonly nc: NatsConnection;
}

/**
 * Connects (unless given a connection), checks the server, creates or updates
 * the streams and buckets, and returns the backend for
 * `AggregateStore.builder(backend)`. `close()` closes the connection only if
 * the backend opened it.
 */
export async function openJetStreamBackend(
  options: JetStreamBackendOptions,
): Promise<JetStreamBackend> {
  const o = resolveBackendOptions(options);
  const owned = !('nc' in o.connection);
  const nc =
    'nc' in o.connection
      ? o.connection.nc
      : await connectTo(o.connection.servers, o.connectionName, o.requestTimeoutMs);
  try {
    const common = { nc, replicas: o.replicas, requestTimeoutMs: o.requestTimeoutMs };
    const [eventLog, snapshots, checkpoints, deadLetters] = await Promise.all([
      JetStreamEventLog.open({
        ...common,
        streamName: o.streamName,
        subjectPrefix: o.subjectPrefix,
        duplicateWindowMs: o.duplicateWindowMs,
      }),
      KvSnapshotStore.open({ ...common, bucket: o.snapshotBucket, logger: o.logger }),
      KvCheckpointStore.open({ ...common, bucket: o.checkpointBucket }),
      JetStreamDeadLetterStore.open({
        ...common,
        streamName: o.deadLetterStream,
        subjectPrefix: o.subjectPrefix,
      }),
    ]);
    let closed = false;
    return {
      eventLog,
      snapshots,
      checkpoints,
      deadLetters,
      nc,
      async close() {
        if (closed) return;
        closed = true;
        await eventLog.close();
        if (owned) await nc.close();
      },
    };
  } catch (error) {
    if (owned) await nc.close();
    throw error;
  }
}

function connectTo(
  servers: readonly string[],
  name: string,
  timeoutMs: number,
): Promise<NatsConnection> {
  return natsCall({ store: 'stream', operation: `connect to ${servers.join(', ')}` }, () =>
    connectNats({ natsServers: servers }, { name, timeoutMs }),
  );
}
