import type {
  Metadata,
  sendUnaryData,
  ServerUnaryCall,
  ServiceDefinition,
  UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { parseJson, ValidationError } from '@tenantfold/core';
import { metadataValue, tenantfoldProtos } from '@tenantfold/wire';
import { grpcErrorOf } from './errorReply.js';
import type { CallContext, RouterService } from './routerService.js';

interface SubmitCommandRequest {
  tenant_id: string;
  command_id: string;
  aggregate_type: string;
  aggregate_id: string;
  payload_json: string;
  metadata: Record<string, string>;
  expected_version?: number;
  /** Set by proto-loader (`oneofs: true`) when the optional field is present. */
  _expected_version?: 'expected_version';
}

function callContextOf(metadata: Metadata): CallContext {
  return {
    tenant: metadataValue(metadata, 'x-tenant-id'),
    correlationId: metadataValue(metadata, 'x-correlation-id'),
    traceparent: metadataValue(metadata, 'traceparent'),
  };
}

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
      if (request.payload_json === '') {
        throw new ValidationError('payload_json is required', 'payload_json');
      }
      const body: Record<string, unknown> = {
        tenant_id: request.tenant_id,
        aggregate_type: request.aggregate_type,
        aggregate_id: request.aggregate_id,
        payload: parseJson(request.payload_json, 'payload_json'),
        metadata: request.metadata,
        ...(request.command_id === '' ? {} : { command_id: request.command_id }),
        ...(request._expected_version === undefined
          ? {}
          : { expected_version: request.expected_version }),
      };
      return (await service.submit(call, body, 'grpc SubmitCommand')).response;
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
