import type { SettingsOf } from '@tenantfold/core';
import { dataLimitSetting, loadSettings, parseSetting } from '@tenantfold/core';

const LABEL = /^[A-Za-z0-9_.-]{1,64}$/;
const label = (raw: unknown): string => {
  const value = parseSetting.string(raw);
  if (!LABEL.test(value)) throw new Error('expected 1-64 of A-Z a-z 0-9 _ . -');
  return value;
};

const cursorSecret = (raw: unknown): string => {
  const value = parseSetting.string(raw);
  if (value !== '' && value.length < 16)
    throw new Error('expected at least 16 characters, or empty');
  return value;
};

/** Every setting of `tenantfold-node`: YAML key, `AGGREGATE_*` env variable (env wins), default. */
export const NODE_SETTINGS = {
  nodeId: {
    key: 'nodeId',
    env: 'AGGREGATE_NODE_ID',
    parse: label,
    doc: 'unique id of this node in placement',
  },
  natsServers: {
    key: 'natsServers',
    env: 'AGGREGATE_NATS_URL',
    parse: parseSetting.urls('nats', 'tls'),
    default: ['nats://127.0.0.1:4222'],
    doc: 'NATS server URLs, comma-separated',
  },
  natsUser: {
    key: 'natsUser',
    env: 'AGGREGATE_NATS_USER',
    parse: parseSetting.string,
    default: '',
    doc: 'NATS user',
  },
  natsPassword: {
    key: 'natsPassword',
    env: 'AGGREGATE_NATS_PASSWORD',
    parse: parseSetting.string,
    default: '',
    doc: 'NATS password',
    secret: true,
  },
  natsToken: {
    key: 'natsToken',
    env: 'AGGREGATE_NATS_TOKEN',
    parse: parseSetting.string,
    default: '',
    doc: 'NATS auth token',
    secret: true,
  },
  grpcListen: {
    key: 'grpcListen',
    env: 'AGGREGATE_GRPC_LISTEN',
    parse: parseSetting.listenAddress,
    default: { host: '127.0.0.1', port: 50051 },
    doc: 'gRPC listen address host:port (port 0: any free port)',
  },
  adminListen: {
    key: 'adminListen',
    env: 'AGGREGATE_ADMIN_LISTEN',
    parse: parseSetting.listenAddress,
    default: { host: '127.0.0.1', port: 8081 },
    doc: 'admin HTTP listen address host:port',
  },
  advertiseHost: {
    key: 'advertiseHost',
    env: 'AGGREGATE_ADVERTISE_HOST',
    parse: parseSetting.string,
    default: '127.0.0.1',
    doc: 'host other services use to reach this node',
  },
  manifestPath: {
    key: 'manifestPath',
    env: 'AGGREGATE_MANIFEST',
    parse: parseSetting.string,
    doc: 'path of aggregates.yaml',
  },
  tenantRange: {
    key: 'tenantRange',
    env: 'AGGREGATE_TENANT_RANGE',
    parse: label,
    default: 'default',
    doc: 'tenant_range label (Swarm placement) of this node',
  },
  snapshotEvery: {
    key: 'snapshotEvery',
    env: 'AGGREGATE_SNAPSHOT_EVERY',
    parse: parseSetting.integer(0, 1_000_000),
    default: 100,
    doc: 'snapshot every N events unless the manifest says otherwise (0: never)',
  },
  maxRetries: {
    key: 'maxRetries',
    env: 'AGGREGATE_MAX_RETRIES',
    parse: parseSetting.integer(0, 100),
    default: 5,
    doc: 're-decide attempts after a concurrent append',
  },
  idleTimeoutMs: {
    key: 'idleTimeoutMs',
    env: 'AGGREGATE_IDLE_TIMEOUT_MS',
    parse: parseSetting.integer(10, 86_400_000),
    default: 300_000,
    doc: 'passivate an aggregate idle this long (ms)',
  },
  maxLiveActors: {
    key: 'maxLiveActors',
    env: 'AGGREGATE_MAX_LIVE_ACTORS',
    parse: parseSetting.integer(1, 10_000_000),
    default: 100_000,
    doc: 'most aggregates held in memory',
  },
  actorMemoryMb: {
    key: 'actorMemoryMb',
    env: 'AGGREGATE_ACTOR_MEMORY_MB',
    parse: parseSetting.integer(0, 1_048_576),
    default: 0,
    doc: "most heap the aggregates held in memory may use, estimated from their states (MB; 0: an eighth of the process's heap limit)",
  },
  tenantIntakeMb: {
    key: 'tenantIntakeMb',
    env: 'AGGREGATE_TENANT_INTAKE_MB',
    parse: parseSetting.integer(1, 1024),
    default: 8,
    doc: 'most MB of command bodies one tenant may have in flight on the node (past it: UNAVAILABLE, retry); one command always fits',
  },
  adminToken: {
    key: 'adminToken',
    env: 'AGGREGATE_ADMIN_TOKEN',
    parse: parseSetting.string,
    default: '',
    doc: 'bearer token for /admin (empty: admin calls refused)',
    secret: true,
  },
  allowDefaultTenant: {
    key: 'allowDefaultTenant',
    env: 'AGGREGATE_ALLOW_DEFAULT_TENANT',
    parse: parseSetting.boolean,
    default: false,
    doc: 'treat calls without x-tenant-id as the default tenant',
  },
  tenantLabelCap: {
    key: 'tenantLabelCap',
    env: 'AGGREGATE_TENANT_LABEL_CAP',
    parse: parseSetting.integer(0, 100_000),
    default: 100,
    doc: 'tenants with their own metrics label; the rest share _other',
  },
  drainTimeoutMs: {
    key: 'drainTimeoutMs',
    env: 'AGGREGATE_DRAIN_TIMEOUT_MS',
    parse: parseSetting.integer(100, 600_000),
    default: 10_000,
    doc: 'how long a drain or SIGTERM waits for in-flight commands (ms)',
  },
  readModelSweepMs: {
    key: 'readModelSweepMs',
    env: 'AGGREGATE_READ_MODEL_SWEEP_MS',
    parse: parseSetting.integer(50, 3_600_000),
    default: 5_000,
    doc: 'how often projections and process managers catch up on events written elsewhere (ms)',
  },
  readModelPath: {
    key: 'readModelPath',
    env: 'AGGREGATE_READ_MODEL_PATH',
    parse: parseSetting.string,
    default: '',
    doc: 'SQLite file of the state read model (empty: <tmpdir>/tenantfold/<nodeId>/<stream>/read-model.sqlite); rebuilt when missing',
  },
  queryCursorSecret: {
    key: 'queryCursorSecret',
    env: 'AGGREGATE_QUERY_CURSOR_SECRET',
    parse: cursorSecret,
    default: '',
    doc: 'key signing query page cursors, the same on every node (empty: random per process)',
    secret: true,
  },
  queryWaitMs: {
    key: 'queryWaitMs',
    env: 'AGGREGATE_QUERY_WAIT_MS',
    parse: parseSetting.integer(0, 60_000),
    default: 5_000,
    doc: 'longest wait of a query for its consistency token (ms)',
  },
  subscriptionsPerTenant: {
    key: 'subscriptionsPerTenant',
    env: 'AGGREGATE_SUBSCRIPTIONS_PER_TENANT',
    parse: parseSetting.integer(1, 1_000_000),
    default: 100,
    doc: 'open Subscribe streams per tenant on this node',
  },
  subscriptionsTotal: {
    key: 'subscriptionsTotal',
    env: 'AGGREGATE_SUBSCRIPTIONS_TOTAL',
    parse: parseSetting.integer(1, 1_000_000),
    default: 10_000,
    doc: 'open Subscribe streams on this node',
  },
  subscriberBuffer: {
    key: 'subscriberBuffer',
    env: 'AGGREGATE_SUBSCRIBER_BUFFER',
    parse: parseSetting.integer(1, 1_000_000),
    default: 1_000,
    doc: 'changes held for one slow subscriber before it is cut (UNAVAILABLE)',
  },
  streamReplicas: {
    key: 'streamReplicas',
    env: 'AGGREGATE_STREAM_REPLICAS',
    parse: parseSetting.integer(1, 5),
    default: 1,
    doc: 'JetStream replicas of the EVENTS stream (3 in a cluster)',
  },
  limitJsonDepth: dataLimitSetting('AGGREGATE', 'jsonDepth'),
  limitStringChars: dataLimitSetting('AGGREGATE', 'stringChars'),
  limitCommandBytes: dataLimitSetting('AGGREGATE', 'commandBytes'),
  limitEventsPerCommand: dataLimitSetting('AGGREGATE', 'eventsPerCommand'),
  limitCommitBytes: dataLimitSetting('AGGREGATE', 'commitBytes'),
  limitStateBytes: dataLimitSetting('AGGREGATE', 'stateBytes'),
  logLevel: {
    key: 'logLevel',
    env: 'AGGREGATE_LOG_LEVEL',
    parse: parseSetting.logLevel,
    default: 'info',
    doc: 'pino log level',
  },
} as const;

export type NodeConfig = SettingsOf<typeof NODE_SETTINGS>;

/**
 * The node's configuration from env (`AGGREGATE_*`, wins) and an optional YAML
 * file (`AGGREGATE_CONFIG` or `file`). Pure apart from reading that file.
 */
export function loadNodeConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
  file?: string,
): NodeConfig {
  return loadSettings(NODE_SETTINGS, env, { fileEnv: 'AGGREGATE_CONFIG', file });
}
