// Promise-shaped clients for e2e tests: CommandService over gRPC, the router's HTTP API, metrics.
import type { Client, ServiceError } from '@grpc/grpc-js';
import { credentials, Metadata } from '@grpc/grpc-js';
import { commandServiceClient } from '@tenantfold/wire';

type Unary = (
  request: unknown,
  metadata: Metadata,
  callback: (error: ServiceError | null, response: unknown) => void,
) => void;

/** CommandService on `127.0.0.1:port` (a node or a router). */
export function grpcClient(port: number) {
  const Ctor = commandServiceClient();
  const client = new Ctor(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as Client &
    Record<'SubmitCommand' | 'GetState', Unary>;
  const call =
    (method: 'SubmitCommand' | 'GetState') =>
    (request: Record<string, unknown>, headers: Record<string, string> = {}) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const metadata = new Metadata();
        for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
        client[method](request, metadata, (error, response) =>
          error ? reject(error) : resolve(response as Record<string, unknown>),
        );
      });
  return { submit: call('SubmitCommand'), getState: call('GetState'), close: () => client.close() };
}

export type GrpcClient = ReturnType<typeof grpcClient>;

/** The error a promise rejects with; fails the test if it resolves. */
export async function grpcRejection(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (error) {
    return error as ServiceError;
  }
  throw new Error('expected the call to fail');
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
}

/** One HTTP request to `127.0.0.1:port`; `body` is sent as is when a string, else as JSON. */
export async function http(
  port: number,
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<HttpAnswer> {
  const body =
    options.body === undefined
      ? undefined
      : typeof options.body === 'string'
        ? options.body
        : JSON.stringify(options.body);
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...options.headers },
    ...(body === undefined ? {} : { body }),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
  };
}

/**
 * Sum of a Prometheus metric's samples whose labels include `labels`, read
 * from `http://127.0.0.1:port/metrics`.
 */
export async function metricSum(
  port: number,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match?.[1] !== name) continue;
    const found = new Map(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([key, value]) => found.get(key) === value)) {
      sum += Number(match[3]);
    }
  }
  return sum;
}
