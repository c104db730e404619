// Shared by the node and router benchmarks: bank-account commands over gRPC or HTTP.
import type { NatsConnection } from '@nats-io/transport-node';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { PlacementStore, RequestMux } from '@tenantfold/nats';
import { HOP_HEADERS, submitCommandCodec } from '@tenantfold/wire';
import { grpcClient, http } from '../test/support/clients.js';
import { round } from './lib.js';

export const AGGREGATES = 10_000;
export const TENANT = 'bench';
const HEADERS = { 'x-tenant-id': TENANT };

export type Submit = (
  aggregateId: string,
  type: string,
  data: Record<string, unknown>,
) => Promise<void>;

/** `SubmitCommand` over one gRPC client (one HTTP/2 connection) to a node or a router. */
export function grpcSubmitter(
  port: number,
  tenant = TENANT,
): { submit: Submit; close: () => void } {
  const client = grpcClient(port);
  const headers = { 'x-tenant-id': tenant };
  return {
    submit: async (id, type, data) => {
      await client.submit(
        {
          aggregate_type: 'account',
          aggregate_id: id,
          payload_json: JSON.stringify({ type, data }),
        },
        headers,
      );
    },
    close: client.close,
  };
}

/**
 * `SubmitCommand` as a router sends it to a node: protobuf bytes over NATS
 * request-reply on the command subject the node advertises (default placement bucket).
 */
export async function natsSubmitter(
  nc: NatsConnection,
  nodeId: string,
  tenant = TENANT,
): Promise<Submit> {
  const mux = new RequestMux(nc);
  const node = await (await PlacementStore.open(nc)).getNode(nodeId);
  const subject = node?.commandSubject;
  if (subject === undefined) throw new Error(`node '${nodeId}' advertises no command subject`);
  const codec = submitCommandCodec();
  return async (id, type, data) => {
    const headers = natsHeaders();
    headers.set(HOP_HEADERS.format, 'proto');
    headers.set(HOP_HEADERS.tenant, tenant);
    const request = codec.requestSerialize({
      aggregate_type: 'account',
      aggregate_id: id,
      payload_json: JSON.stringify({ type, data }),
    } as Parameters<typeof codec.requestSerialize>[0]);
    const reply = await mux.request(subject, request, { headers, timeoutMs: 30_000 });
    const code = reply.headers?.get(HOP_HEADERS.errorCode) ?? '';
    if (code !== '') throw new Error(`${code}: ${reply.string()}`);
  };
}

/** `POST /v1/commands` on a router. */
export function httpSubmitter(port: number): Submit {
  return async (id, type, data) => {
    const answer = await http(port, 'POST', '/v1/commands', {
      headers: HEADERS,
      body: { aggregate_type: 'account', aggregate_id: id, payload: { type, data } },
    });
    if (answer.status !== 200)
      throw new Error(`HTTP ${answer.status}: ${JSON.stringify(answer.body)}`);
  };
}

export const accountId = (n: number) => `acc-${n}`;

/**
 * Deposits: worker `w` of `c` walks accounts w, w + c, w + 2c, ... so the
 * workers stay on disjoint accounts (but for the wrap-around) and every round
 * spreads over all of them.
 */
export function depositCase(submit: Submit, concurrency: number, offset: number) {
  return round(concurrency, (worker, i) =>
    submit(accountId((offset + worker + i * concurrency) % AGGREGATES), 'Deposit', { amount: 1 }),
  );
}

/** Opens every account, `concurrency` commands in flight. */
export async function openAccounts(submit: Submit, concurrency: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < AGGREGATES) await submit(accountId(next++), 'Open', { owner: 'bench' });
    }),
  );
}
