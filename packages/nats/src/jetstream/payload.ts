import type { NatsConnection } from '@nats-io/transport-node';

/** Room left in the server's `max_payload` for message headers (msg id, expected sequence, KV). */
const HEADER_ALLOWANCE = 256;

/** The server's `max_payload` when `bytes` (plus headers) would exceed it, else undefined. */
export function exceededMaxPayload(nc: NatsConnection, bytes: number): number | undefined {
  const maxPayload = nc.info?.max_payload ?? Number.POSITIVE_INFINITY;
  return bytes + HEADER_ALLOWANCE > maxPayload ? maxPayload : undefined;
}
