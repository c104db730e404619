import type { Client, ClientReadableStream, ServiceError } from '@grpc/grpc-js';
import { credentials, Metadata } from '@grpc/grpc-js';
import { commandServiceClient, queryServiceClient } from '@tenantfold/wire';

type AnyClient = Client &
  Record<
    string,
    (req: unknown, md: Metadata, cb: (err: ServiceError | null, res: unknown) => void) => void
  >;

function metadataOf(headers: Record<string, string>): Metadata {
  const md = new Metadata();
  for (const [k, v] of Object.entries(headers)) md.set(k, v);
  return md;
}

/** A promise-shaped CommandService client for tests. */
export function commandClient(port: number) {
  const Ctor = commandServiceClient();
  return unaryCalls(new Ctor(`127.0.0.1:${port}`, credentials.createInsecure()) as AnyClient);
}

/** A QueryService client: Query and GetState as promises, Subscribe as a stream. */
export function queryClient(port: number) {
  const Ctor = queryServiceClient();
  const client = new Ctor(`127.0.0.1:${port}`, credentials.createInsecure()) as AnyClient;
  const { call, close } = unaryCalls(client);
  return {
    query: call('Query'),
    getState: call('GetState'),
    subscribe: (request: Record<string, unknown>, headers: Record<string, string> = {}) =>
      (
        client as unknown as Record<
          string,
          (req: unknown, md: Metadata) => ClientReadableStream<Record<string, unknown>>
        >
      ).Subscribe!(request, metadataOf(headers)),
    close,
  };
}

function unaryCalls(client: AnyClient) {
  const call =
    (method: string) =>
    (
      request: Record<string, unknown>,
      headers: Record<string, string> = {},
    ): Promise<Record<string, unknown>> =>
      new Promise((resolve, reject) => {
        client[method]!(request, metadataOf(headers), (err, res) =>
          err ? reject(err) : resolve(res as Record<string, unknown>),
        );
      });
  return {
    call,
    submit: call('SubmitCommand'),
    getState: call('GetState'),
    close: () => client.close(),
  };
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (error) {
    return error as ServiceError;
  }
  throw new Error('expected the call to fail');
}
