import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger, TenantId } from '@tenantfold/core';
import type { StateNotification } from '@tenantfold/query/live';
import { decodeNotification, stateSubject } from '@tenantfold/query/live';

/**
 * Delivers the state notifications of one tenant's aggregate type (core NATS,
 * `state.<tenant>.<type>.*`) until the returned function is called. Without a
 * connection it delivers nothing (the node's stream still does).
 */
export function watchStates(
  nc: NatsConnection | undefined,
  tenant: TenantId,
  type: string,
  deliver: (notification: StateNotification) => void,
  logger: Logger,
): () => void {
  if (nc === undefined || nc.isClosed()) return () => undefined;
  const subscription = nc.subscribe(stateSubject(tenant, type), {
    callback: (error, message) => {
      if (error !== null) return;
      try {
        deliver(decodeNotification(message.data));
      } catch (bad) {
        logger.warn({ err: bad, subject: message.subject }, 'unreadable state notification');
      }
    },
  });
  return () => subscription.unsubscribe();
}
