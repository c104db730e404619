import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';

/** Where NATS is and whom to log in as: the `nats*` part of a service's settings. */
export interface NatsSettings {
  /** Server URLs (`nats://host:4222`, `tls://…`). */
  readonly natsServers: readonly string[];
  /** User, logged in with `natsPassword`; empty for none. @default '' */
  readonly natsUser?: string;
  /** Password of `natsUser`. @default '' */
  readonly natsPassword?: string;
  /** Auth token; empty for none. @default '' */
  readonly natsToken?: string;
}

export interface ConnectNatsOptions {
  /** Connection name the server shows (`nats server report connections`). */
  readonly name: string;
  /** How long connecting may take, in ms. @default nats.js's 20_000 */
  readonly timeoutMs?: number;
  /**
   * Once connected, never give up reconnecting (every 500 ms): for a service
   * that keeps serving what it has while NATS is away. @default false: nats.js's 10 attempts
   */
  readonly reconnectForever?: boolean;
}

/**
 * Connects to NATS as every tenantfold service does: the settings'
 * credentials, no async stack traces. Errors are nats.js's own: each caller
 * says what a failed connect means to it.
 */
export function connectNats(
  settings: NatsSettings,
  options: ConnectNatsOptions,
): Promise<NatsConnection> {
  const user = settings.natsUser ?? '';
  const token = settings.natsToken ?? '';
  return connect({
    servers: [...settings.natsServers],
    name: options.name,
    // Async traces capture a stack per request: about a quarter of the client's CPU on the
    // append path. Our errors carry the caller's stack anyway (see natsCall).
    noAsyncTraces: true,
    ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
    ...(options.reconnectForever === true
      ? { maxReconnectAttempts: -1, reconnectTimeWait: 500 }
      : {}),
    ...(user === '' ? {} : { user, pass: settings.natsPassword ?? '' }),
    ...(token === '' ? {} : { token }),
  });
}
