import type { SettingsOf } from '@tenantfold/core';
import { dataLimitSetting, loadSettings, parseSetting } from '@tenantfold/core';
import { DEFAULT_PLACEMENT_BUCKET } from '@tenantfold/nats';

const BUCKET = /^[A-Za-z0-9_-]{1,64}$/;
const bucket = (raw: unknown): string => {
  const value = parseSetting.string(raw);
  if (!BUCKET.test(value)) throw new Error('expected 1-64 of A-Z a-z 0-9 _ -');
  return value;
};

/** Every setting of `tenantfold-router`: YAML key, `ROUTER_*` env variable (env wins), default. */
export const ROUTER_SETTINGS = {
  natsServers: {
    key: 'natsServers',
    env: 'ROUTER_NATS_URL',
    parse: parseSetting.urls('nats', 'tls'),
    default: ['nats://127.0.0.1:4222'],
    doc: 'NATS server URLs, comma-separated',
  },
  natsUser: {
    key: 'natsUser',
    env: 'ROUTER_NATS_USER',
    parse: parseSetting.string,
    default: '',
    doc: 'NATS user',
  },
  natsPassword: {
    key: 'natsPassword',
    env: 'ROUTER_NATS_PASSWORD',
    parse: parseSetting.string,
    default: '',
    doc: 'NATS password',
    secret: true,
  },
  natsToken: {
    key: 'natsToken',
    env: 'ROUTER_NATS_TOKEN',
    parse: parseSetting.string,
    default: '',
    doc: 'NATS auth token',
    secret: true,
  },
  natsConnectTimeoutMs: {
    key: 'natsConnectTimeoutMs',
    env: 'ROUTER_NATS_CONNECT_TIMEOUT_MS',
    parse: parseSetting.integer(100, 60_000),
    default: 2_000,
    doc: 'how long start waits for NATS before falling back to the placement file (ms)',
  },
  placementBucket: {
    key: 'placementBucket',
    env: 'ROUTER_PLACEMENT_BUCKET',
    parse: bucket,
    default: DEFAULT_PLACEMENT_BUCKET,
    doc: 'KV bucket holding tenant placement',
  },
  placementFile: {
    key: 'placementFile',
    env: 'ROUTER_PLACEMENT_FILE',
    parse: parseSetting.string,
    default: '',
    doc: 'placement YAML (placementctl export) used when KV is unreachable at start; empty: none',
  },
  grpcListen: {
    key: 'grpcListen',
    env: 'ROUTER_GRPC_LISTEN',
    parse: parseSetting.listenAddress,
    default: { host: '127.0.0.1', port: 50050 },
    doc: 'gRPC listen address host:port (port 0: any free port)',
  },
  httpListen: {
    key: 'httpListen',
    env: 'ROUTER_HTTP_LISTEN',
    parse: parseSetting.listenAddress,
    default: { host: '127.0.0.1', port: 8080 },
    doc: 'HTTP listen address (API, /health, /ready, /metrics)',
  },
  allowDefaultTenant: {
    key: 'allowDefaultTenant',
    env: 'ROUTER_ALLOW_DEFAULT_TENANT',
    parse: parseSetting.boolean,
    default: false,
    doc: 'treat calls without x-tenant-id as the default tenant',
  },
  forwardTimeoutMs: {
    key: 'forwardTimeoutMs',
    env: 'ROUTER_FORWARD_TIMEOUT_MS',
    parse: parseSetting.integer(100, 600_000),
    default: 10_000,
    doc: 'deadline of one forwarded call to a node (ms)',
  },
  connectTimeoutMs: {
    key: 'connectTimeoutMs',
    env: 'ROUTER_CONNECT_TIMEOUT_MS',
    parse: parseSetting.integer(10, 60_000),
    default: 1_000,
    doc: 'how long to wait for a connection to a node before answering UNAVAILABLE (ms)',
  },
  channelsPerNode: {
    key: 'channelsPerNode',
    env: 'ROUTER_CHANNELS_PER_NODE',
    parse: parseSetting.integer(1, 64),
    default: 2,
    doc: 'gRPC connections kept to each node (calls spread round-robin)',
  },
  holdQueueLimit: {
    key: 'holdQueueLimit',
    env: 'ROUTER_HOLD_QUEUE_LIMIT',
    parse: parseSetting.integer(0, 1_000_000),
    default: 1_000,
    doc: 'commands held per tenant during a migration cutover; more get UNAVAILABLE',
  },
  holdTimeoutMs: {
    key: 'holdTimeoutMs',
    env: 'ROUTER_HOLD_TIMEOUT_MS',
    parse: parseSetting.integer(10, 600_000),
    default: 10_000,
    doc: 'longest a command waits for a cutover to finish before UNAVAILABLE (ms)',
  },
  subscriptionsPerTenant: {
    key: 'subscriptionsPerTenant',
    env: 'ROUTER_SUBSCRIPTIONS_PER_TENANT',
    parse: parseSetting.integer(1, 1_000_000),
    default: 100,
    doc: 'open subscriptions (gRPC Subscribe, SSE) one tenant may hold on this router',
  },
  subscriptionsTotal: {
    key: 'subscriptionsTotal',
    env: 'ROUTER_SUBSCRIPTIONS_TOTAL',
    parse: parseSetting.integer(1, 1_000_000),
    default: 10_000,
    doc: 'open subscriptions this router holds in all; more get UNAVAILABLE',
  },
  subscriberBuffer: {
    key: 'subscriberBuffer',
    env: 'ROUTER_SUBSCRIBER_BUFFER',
    parse: parseSetting.integer(1, 1_000_000),
    default: 1_000,
    doc: 'changes waiting for one slow subscriber before it is cut (UNAVAILABLE / SSE error event)',
  },
  subscriptionReopenMs: {
    key: 'subscriptionReopenMs',
    env: 'ROUTER_SUBSCRIPTION_REOPEN_MS',
    parse: parseSetting.integer(100, 600_000),
    default: 10_000,
    doc: 'how long a subscription whose node went away keeps trying the (new) owner (ms)',
  },
  sseHeartbeatMs: {
    key: 'sseHeartbeatMs',
    env: 'ROUTER_SSE_HEARTBEAT_MS',
    parse: parseSetting.integer(100, 600_000),
    default: 15_000,
    doc: 'gap between heartbeat comments on server-sent event streams (ms)',
  },
  limitJsonDepth: dataLimitSetting('ROUTER', 'jsonDepth'),
  limitStringChars: dataLimitSetting('ROUTER', 'stringChars'),
  limitCommandBytes: dataLimitSetting('ROUTER', 'commandBytes'),
  logLevel: {
    key: 'logLevel',
    env: 'ROUTER_LOG_LEVEL',
    parse: parseSetting.logLevel,
    default: 'info',
    doc: 'pino log level',
  },
} as const;

export type RouterConfig = SettingsOf<typeof ROUTER_SETTINGS>;

/**
 * The router's configuration from env (`ROUTER_*`, wins) and an optional YAML
 * file (`ROUTER_CONFIG` or `file`). Pure apart from reading that file.
 */
export function loadRouterConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
  file?: string,
): RouterConfig {
  return loadSettings(ROUTER_SETTINGS, env, { fileEnv: 'ROUTER_CONFIG', file });
}
