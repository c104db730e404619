import type { ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { tenantfoldProtos } from '@tenantfold/wire';

export interface GrpcServerOptions {
  readonly host: string;
  /** 0 lets the OS choose; `start()` reports the port it got. */
  readonly port: number;
  /** Largest request accepted, in bytes; bigger payloads are refused by the engine's own limit first. @default 4 MiB */
  readonly maxReceiveBytes?: number;
}

/** A gRPC server for the tenantfold.v1 services, with server reflection. */
export class GrpcServer {
  private server: Server | undefined;

  constructor(
    private readonly options: GrpcServerOptions,
    private readonly services: Readonly<Record<string, UntypedServiceImplementation>>,
  ) {}

  async start(): Promise<{ port: number }> {
    const { definition, v1 } = tenantfoldProtos();
    const server = new Server({
      'grpc.max_receive_message_length': this.options.maxReceiveBytes ?? 4 * 1024 * 1024,
    });
    for (const [name, implementation] of Object.entries(this.services)) {
      const service = (v1[name] as { service: ServiceDefinition }).service;
      server.addService(service, implementation);
    }
    new ReflectionService(definition).addToServer(server);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        `${this.options.host}:${this.options.port}`,
        ServerCredentials.createInsecure(),
        (error, bound) => (error ? reject(error) : resolve(bound)),
      ),
    );
    this.server = server;
    return { port };
  }

  /** Lets in-flight calls finish until the deadline, then cuts the rest. */
  async stop(deadlineMs: number): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, deadlineMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
