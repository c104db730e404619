// The gRPC side of bench/node.ts on a worker thread of its own: clients run on
// other machines, so their CPU must not be charged to the node's event loop.
// Answers `{ op, concurrency, offset }` messages with `{ round }` or `{ error }`.
import { parentPort, workerData } from 'node:worker_threads';
import { accountId, depositCase, grpcSubmitter, openAccounts } from './accounts.js';
import type { Round } from './lib.js';

export type ClientRequest =
  | { readonly op: 'open' }
  | { readonly op: 'warm'; readonly concurrency: number }
  | { readonly op: 'deposit'; readonly concurrency: number; readonly offset: number };

export type ClientReply = { readonly round?: Round; readonly error?: string };

const grpc = grpcSubmitter((workerData as { port: number }).port);
const port = parentPort!;

async function handle(request: ClientRequest): Promise<Round | undefined> {
  switch (request.op) {
    case 'open':
      await openAccounts(grpc.submit, 256);
      return undefined;
    case 'warm':
      await Promise.all(
        Array.from({ length: request.concurrency }, (_, w) =>
          grpc.submit(accountId(w), 'Deposit', { amount: 1 }),
        ),
      );
      return undefined;
    case 'deposit':
      return depositCase(grpc.submit, request.concurrency, request.offset);
  }
}

port.on('message', (request: ClientRequest | 'close') => {
  if (request === 'close') {
    grpc.close();
    port.close();
    return;
  }
  handle(request).then(
    (round) => port.postMessage({ round } satisfies ClientReply),
    (error: unknown) => port.postMessage({ error: String(error) } satisfies ClientReply),
  );
});
