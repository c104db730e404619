import type { SettingsOf } from '@tenantfold/core';
import { parseSetting, readSettings } from '@tenantfold/core';
import { DEFAULT_PLACEMENT_BUCKET, JETSTREAM_BACKEND_DEFAULTS } from '@tenantfold/nats';

/** Every setting of `placementctl`: env variable (global flags override it), default. */
export const CONTROLLER_SETTINGS = {
  natsServers: {
    key: 'natsServers',
    env: 'PLACEMENTCTL_NATS_URL',
    parse: parseSetting.urls('nats', 'tls'),
    default: ['nats://127.0.0.1:4222'],
    doc: 'NATS server URLs, comma-separated (flag --nats)',
  },
  adminToken: {
    key: 'adminToken',
    env: 'PLACEMENTCTL_ADMIN_TOKEN',
    parse: parseSetting.string,
    default: '',
    doc: "bearer token of the nodes' /admin API (needed by migrate, rebalance, serve)",
    secret: true,
  },
  placementBucket: {
    key: 'placementBucket',
    env: 'PLACEMENTCTL_PLACEMENT_BUCKET',
    parse: parseSetting.string,
    default: DEFAULT_PLACEMENT_BUCKET,
    doc: 'KV bucket of placement (flag --bucket)',
  },
  streamName: {
    key: 'streamName',
    env: 'PLACEMENTCTL_STREAM',
    parse: parseSetting.string,
    default: JETSTREAM_BACKEND_DEFAULTS.streamName,
    doc: 'JetStream stream of aggregate commits (flag --stream)',
  },
  subjectPrefix: {
    key: 'subjectPrefix',
    env: 'PLACEMENTCTL_SUBJECT_PREFIX',
    parse: parseSetting.string,
    default: '',
    doc: 'subject prefix the nodes use, dot-terminated (flag --subject-prefix)',
  },
  replicas: {
    key: 'replicas',
    env: 'PLACEMENTCTL_REPLICAS',
    parse: parseSetting.integer(1, 5),
    default: 1,
    doc: 'replicas of the streams and buckets `init` creates (3 in a cluster)',
  },
  requestTimeoutMs: {
    key: 'requestTimeoutMs',
    env: 'PLACEMENTCTL_REQUEST_TIMEOUT_MS',
    parse: parseSetting.integer(100, 600_000),
    default: 5_000,
    doc: 'timeout of each NATS request and of connecting (ms)',
  },
  warmTimeoutMs: {
    key: 'warmTimeoutMs',
    env: 'PLACEMENTCTL_WARM_TIMEOUT_MS',
    parse: parseSetting.integer(100, 3_600_000),
    default: 120_000,
    doc: 'migration: how long the target may take to warm the tenant (ms)',
  },
  drainTimeoutMs: {
    key: 'drainTimeoutMs',
    env: 'PLACEMENTCTL_DRAIN_TIMEOUT_MS',
    parse: parseSetting.integer(100, 600_000),
    default: 15_000,
    doc: 'migration: how long the source may take to drain the tenant (ms)',
  },
  verifyTimeoutMs: {
    key: 'verifyTimeoutMs',
    env: 'PLACEMENTCTL_VERIFY_TIMEOUT_MS',
    parse: parseSetting.integer(100, 600_000),
    default: 30_000,
    doc: 'migration: how long the target may take to catch up and compare hashes (ms)',
  },
  heartbeatTimeoutMs: {
    key: 'heartbeatTimeoutMs',
    env: 'PLACEMENTCTL_HEARTBEAT_TIMEOUT_MS',
    parse: parseSetting.integer(500, 3_600_000),
    default: 10_000,
    doc: 'serve: a node silent this long is marked down (ms)',
  },
  listen: {
    key: 'listen',
    env: 'PLACEMENTCTL_LISTEN',
    parse: parseSetting.listenAddress,
    default: { host: '127.0.0.1', port: 9464 },
    doc: 'serve: host:port of /health and /metrics (flag --listen)',
  },
  logLevel: {
    key: 'logLevel',
    env: 'PLACEMENTCTL_LOG_LEVEL',
    parse: parseSetting.oneOf('trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'),
    default: 'warn',
    doc: 'pino log level of the JSON logs on stderr',
  },
} as const;

export type ControllerConfig = SettingsOf<typeof CONTROLLER_SETTINGS>;

/** The controller's configuration from `PLACEMENTCTL_*` env, validated at once (`ConfigError`). */
export function loadControllerConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
): ControllerConfig {
  return readSettings(CONTROLLER_SETTINGS, env);
}
