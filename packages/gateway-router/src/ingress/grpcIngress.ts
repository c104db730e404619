import type {
  sendUnaryData,
  ServerUnaryCall,
  ServerWritableStream,
  ServiceDefinition,
  UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { CallContext } from '@tenantfold/wire';
import { callContextOf, tenantfoldProtos } from '@tenantfold/wire';
import { drained } from './drained.js';
import { grpcErrorOf } from './errorReply.js';
import type { RouterService } from './routerService.js';

function unary<Req extends object, Res>(handle: (request: Req, call: CallContext) => Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    handle(call.request, callContextOf(call.metadata)).then(
      (response) => callback(null, response),
      (error: unknown) => callback(grpcErrorOf(error)),
    );
  };
}

/** `tenantfold.v1.CommandService` of the router: the node's service, proxied. */
export function commandServiceProxy(service: RouterService): UntypedServiceImplementation {
  return {
    SubmitCommand: unary(
      async (request: Buffer, call) =>
        (await service.submitEncoded(call, request, 'proto', 'grpc SubmitCommand')).response,
    ),
    GetState: unary(
      async (request: Record<string, unknown>, call) =>
        (await service.getState(call, request, 'grpc GetState')).response,
    ),
  };
}

/** `QueryRequest` / `SubscribeRequest` as proto-loader decodes them (the fields the router reads). */
interface QueryServiceRequest extends Record<string, unknown> {
  consistency_token?: number;
  /** Set by proto-loader (`oneofs: true`) when the optional field is present. */
  _consistency_token?: 'consistency_token';
}

/** The body of a query or subscription: an unset `consistency_token` left out (proto3 would say 0). */
function queryBodyOf(request: QueryServiceRequest): Record<string, unknown> {
  const { _consistency_token: present, consistency_token: token, ...rest } = request;
  return present === undefined ? rest : { ...rest, consistency_token: token };
}

/**
 * `tenantfold.v1.QueryService` of the router: Query forwarded to the owner,
 * GetState answered by the owner's CommandService.GetState (the same
 * messages), Subscribe held through owner changes (RoutedSubscription).
 */
export function queryServiceProxy(service: RouterService): UntypedServiceImplementation {
  return {
    Query: unary(
      async (request: QueryServiceRequest, call) =>
        (await service.query(call, queryBodyOf(request), 'grpc Query')).response,
    ),
    GetState: unary(
      async (request: Record<string, unknown>, call) =>
        (await service.getState(call, request, 'grpc QueryService.GetState')).response,
    ),
    Subscribe: (call: ServerWritableStream<QueryServiceRequest, unknown>) => {
      void streamSubscription(service, call);
    },
  };
}

async function streamSubscription(
  service: RouterService,
  call: ServerWritableStream<QueryServiceRequest, unknown>,
): Promise<void> {
  try {
    const { response: subscription } = await service.subscribe(
      callContextOf(call.metadata),
      queryBodyOf(call.request),
      'grpc Subscribe',
    );
    call.on('cancelled', () => subscription.close());
    if (call.cancelled) subscription.close();
    for await (const change of subscription.changes) {
      if (!call.write(change)) await drained(call, subscription.ended);
    }
    call.end();
  } catch (error) {
    if (!call.cancelled) call.emit('error', grpcErrorOf(error));
  }
}

/** SubmitCommand's bytes in and out untouched: the node decodes them (and encodes its answer). */
function passingCommandsThrough(commands: ServiceDefinition): ServiceDefinition {
  return {
    ...commands,
    SubmitCommand: {
      ...commands.SubmitCommand!,
      requestDeserialize: (message: Buffer) => message,
      responseSerialize: (answer: Uint8Array) =>
        Buffer.isBuffer(answer)
          ? answer
          : Buffer.from(answer.buffer, answer.byteOffset, answer.byteLength),
    },
  };
}

/** The router's gRPC server (CommandService, QueryService); `start()` reports the port it got. */
export class GrpcIngress {
  #server: Server | undefined;

  constructor(
    private readonly listen: { readonly host: string; readonly port: number },
    private readonly service: RouterService,
  ) {}

  async start(): Promise<{ port: number }> {
    const { v1 } = tenantfoldProtos();
    const server = new Server();
    const commands = (v1.CommandService as { service: ServiceDefinition }).service;
    server.addService(passingCommandsThrough(commands), commandServiceProxy(this.service));
    const queries = (v1.QueryService as { service: ServiceDefinition }).service;
    server.addService(queries, queryServiceProxy(this.service));
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        `${this.listen.host}:${this.listen.port}`,
        ServerCredentials.createInsecure(),
        (error, bound) => (error ? reject(error) : resolve(bound)),
      ),
    );
    this.#server = server;
    return { port };
  }

  /** Lets calls in flight finish (held ones included) until `deadlineMs`, then cuts them. */
  async stop(deadlineMs: number): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server === undefined) return;
    const cut = setTimeout(() => server.forceShutdown(), deadlineMs);
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    clearTimeout(cut);
  }
}
