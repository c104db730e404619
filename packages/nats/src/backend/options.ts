import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '@tenantfold/core';
import { silentLogger, ValidationError } from '@tenantfold/core';
import { checkInteger, checkName, checkPrefix } from '../jetstream/index.js';

/** How to reach NATS and where to keep everything; every setting but the connection has a default. */
export interface JetStreamBackendOptions {
  /** An open connection to use. The backend never closes it. Give this or `servers`. */
  readonly nc?: NatsConnection;
  /**
   * Server URL(s) to connect to (`nats://host:4222`); the backend owns that
   * connection and closes it in `close()`. Give this or `nc`.
   */
  readonly servers?: string | readonly string[];
  /** Connection name the server shows (only with `servers`). @default 'tenantfold' */
  readonly connectionName?: string;
  /** Stream of aggregate commits. @default 'EVENTS' */
  readonly streamName?: string;
  /**
   * Put before every subject of both streams, so several deployments (or
   * tests) can share a server. Empty, or dot-terminated tokens. @default ''
   */
  readonly subjectPrefix?: string;
  /** KV bucket of snapshots. @default 'SNAPSHOTS' */
  readonly snapshotBucket?: string;
  /** KV bucket of projection and process-manager checkpoints. @default 'CHECKPOINTS' */
  readonly checkpointBucket?: string;
  /** Stream of process-manager dead letters. @default 'DEAD_LETTERS' */
  readonly deadLetterStream?: string;
  /** Replicas of every stream and bucket (3 in a cluster). @default 1 */
  readonly replicas?: number;
  /**
   * How long the server drops a repeated command id, in ms. Repeats older
   * than this are still recognised by the engine, from the stream.
   * @default 120_000
   */
  readonly duplicateWindowMs?: number;
  /** Timeout of each JetStream and KV request (and of connecting), in ms. @default 5_000 */
  readonly requestTimeoutMs?: number;
  /** Where the stores report what they skip (oversized snapshots). @default silent */
  readonly logger?: Logger;
}

export const JETSTREAM_BACKEND_DEFAULTS = Object.freeze({
  connectionName: 'tenantfold',
  streamName: 'EVENTS',
  subjectPrefix: '',
  snapshotBucket: 'SNAPSHOTS',
  checkpointBucket: 'CHECKPOINTS',
  deadLetterStream: 'DEAD_LETTERS',
  replicas: 1,
  duplicateWindowMs: 120_000,
  requestTimeoutMs: 5_000,
});

export type ResolvedBackendOptions = Required<Omit<JetStreamBackendOptions, 'nc' | 'servers'>> & {
  readonly connection: { readonly nc: NatsConnection } | { readonly servers: readonly string[] };
};

/** Checks every option (each bad one named with its value) and fills in the defaults. */
export function resolveBackendOptions(options: JetStreamBackendOptions): ResolvedBackendOptions {
  const d = JETSTREAM_BACKEND_DEFAULTS;
  const { nc, servers } = options;
  if ((nc === undefined) === (servers === undefined)) {
    throw new ValidationError('give exactly one of nc (a connection) and servers', 'servers');
  }
  const list = typeof servers === 'string' ? [servers] : servers;
  if (list !== undefined && (list.length === 0 || list.some((s) => s.trim() === ''))) {
    throw new ValidationError(`invalid option servers ${JSON.stringify(servers)}`, 'servers');
  }
  const names = {
    streamName: checkName('streamName', options.streamName ?? d.streamName),
    snapshotBucket: checkName('snapshotBucket', options.snapshotBucket ?? d.snapshotBucket),
    checkpointBucket: checkName('checkpointBucket', options.checkpointBucket ?? d.checkpointBucket),
    deadLetterStream: checkName('deadLetterStream', options.deadLetterStream ?? d.deadLetterStream),
  };
  if (names.streamName === names.deadLetterStream) {
    throw new ValidationError(
      `streamName and deadLetterStream must differ (both '${names.streamName}')`,
      'deadLetterStream',
    );
  }
  if (names.snapshotBucket === names.checkpointBucket) {
    throw new ValidationError(
      `snapshotBucket and checkpointBucket must differ (both '${names.snapshotBucket}')`,
      'checkpointBucket',
    );
  }
  return Object.freeze({
    connection: nc === undefined ? { servers: [...(list ?? [])] } : { nc },
    connectionName: options.connectionName ?? d.connectionName,
    ...names,
    subjectPrefix: checkPrefix('subjectPrefix', options.subjectPrefix ?? d.subjectPrefix),
    replicas: checkInteger('replicas', options.replicas ?? d.replicas, 1, 5),
    duplicateWindowMs: checkInteger(
      'duplicateWindowMs',
      options.duplicateWindowMs ?? d.duplicateWindowMs,
      100,
      7 * 24 * 3_600_000,
    ),
    requestTimeoutMs: checkInteger(
      'requestTimeoutMs',
      options.requestTimeoutMs ?? d.requestTimeoutMs,
      1,
      600_000,
    ),
    logger: options.logger ?? silentLogger,
  });
}
