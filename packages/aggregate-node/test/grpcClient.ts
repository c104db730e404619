import type { Client, ServiceError } from '@grpc/grpc-js';
import { credentials, Metadata } from '@grpc/grpc-js';
import { commandServiceClient } from '@tenantfold/wire';

/** A promise-shaped CommandService client for tests. */
export function commandClient(port: number) {
  const Ctor = commandServiceClient();
  const client = new Ctor(`127.0.0.1:${port}`, credentials.createInsecure()) as Client &
    Record<
      string,
      (req: unknown, md: Metadata, cb: (err: ServiceError | null, res: unknown) => void) => void
    >;
  const call =
    (method: string) =>
    (
      request: Record<string, unknown>,
      headers: Record<string, string> = {},
    ): Promise<Record<string, unknown>> =>
      new Promise((resolve, reject) => {
        const md = new Metadata();
        for (const [k, v] of Object.entries(headers)) md.set(k, v);
        client[method]!(request, md, (err, res) =>
          err ? reject(err) : resolve(res as Record<string, unknown>),
        );
      });
  return {
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
