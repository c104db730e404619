import type {
  sendUnaryData,
  ServerUnaryCall,
  ServiceDefinition,
  UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { CallContext, SubmitCommandRequest } from '@tenantfold/wire';
import { callContextOf, commandBodyOf, tenantfoldProtos } from '@tenantfold/wire';
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
    SubmitCommand: unary(async (request: SubmitCommandRequest, call) => {
      return (await service.submit(call, commandBodyOf(request), 'grpc SubmitCommand')).response;
    }),
    GetState: unary(
      async (request: Record<string, unknown>, call) =>
        (await service.getState(call, request, 'grpc GetState')).response,
    ),
  };
}

/** The router's gRPC server (CommandService); `start()` reports the port it got. */
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
    server.addService(commands, commandServiceProxy(this.service));
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
