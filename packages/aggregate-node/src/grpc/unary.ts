import type { Metadata, sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import { toServiceError } from '@tenantfold/wire';

/** A unary gRPC handler from a promise-returning function; errors mapped by `toServiceError`. */
export function unary<Req, Res>(handle: (request: Req, metadata: Metadata) => Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    handle(call.request, call.metadata).then(
      (response) => callback(null, response),
      (error: unknown) => callback(toServiceError(error)),
    );
  };
}
