// Clients of the query API for e2e tests: QueryService over gRPC (with a
// collecting Subscribe) and the router's server-sent events.
import type { Client, ClientReadableStream, ServiceError } from '@grpc/grpc-js';
import { credentials, Metadata } from '@grpc/grpc-js';
import { queryServiceClient } from '@tenantfold/wire';

/** One change as a subscriber sees it (gRPC StateChange or an SSE event, normalised). */
export interface SeenChange {
  /** Lowercase kind: snapshot, caught_up, entered, updated, left. */
  readonly kind: string;
  readonly id: string;
  readonly version: number;
  readonly state: Record<string, unknown> | undefined;
  readonly position: number;
}

/** What a subscription has received so far, and how it ended. */
export interface Collected {
  readonly changes: SeenChange[];
  /** Set when the stream ended: the error (gRPC status / SSE error event), or 'end'. */
  ended: ServiceError | Record<string, unknown> | 'end' | undefined;
  close(): void;
}

type Unary = (
  request: unknown,
  metadata: Metadata,
  callback: (error: ServiceError | null, response: unknown) => void,
) => void;

function metadataOf(headers: Record<string, string>): Metadata {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
  return metadata;
}

/** QueryService on `127.0.0.1:port` (a node or a router). */
export function queryGrpcClient(port: number) {
  const Ctor = queryServiceClient();
  const client = new Ctor(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as Client &
    Record<'Query' | 'GetState', Unary> & {
      Subscribe(request: unknown, metadata: Metadata): ClientReadableStream<unknown>;
    };
  const call =
    (method: 'Query' | 'GetState') =>
    (request: Record<string, unknown>, headers: Record<string, string> = {}) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        client[method](request, metadataOf(headers), (error, response) =>
          error ? reject(error) : resolve(response as Record<string, unknown>),
        );
      });
  return {
    query: call('Query'),
    getState: call('GetState'),
    /** Opens Subscribe and collects what arrives. */
    subscribe(request: Record<string, unknown>, headers: Record<string, string> = {}): Collected {
      const stream = client.Subscribe(request, metadataOf(headers));
      const collected: Collected = {
        changes: [],
        ended: undefined,
        close: () => stream.cancel(),
      };
      stream.on('data', (message: Record<string, unknown>) => {
        const kind = String(message.kind).toLowerCase();
        collected.changes.push({
          kind,
          id: message.aggregate_id as string,
          version: Number(message.version),
          state:
            message.state_json === ''
              ? undefined
              : (JSON.parse(message.state_json as string) as Record<string, unknown>),
          position: Number(message.position),
        });
      });
      stream.on('error', (error: ServiceError) => {
        collected.ended ??= error;
      });
      stream.on('end', () => {
        collected.ended ??= 'end';
      });
      return collected;
    },
    close: () => client.close(),
  };
}

export type QueryGrpcClient = ReturnType<typeof queryGrpcClient>;

/** One parsed server-sent event. */
export interface SseEvent {
  readonly event: string;
  readonly id: string | undefined;
  readonly data: Record<string, unknown>;
}

/**
 * `GET path` on the router as server-sent events: the response status, every
 * event parsed, heartbeats counted. Answers that are not streams are returned
 * as `refused` (status and JSON body).
 */
export async function sseSubscribe(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<
  | { refused: { status: number; body: Record<string, unknown> } }
  | { refused: undefined; events: SseEvent[]; collected: Collected; heartbeats: () => number }
> {
  const abort = new AbortController();
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    headers,
    signal: abort.signal,
  });
  if (!(response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    return {
      refused: {
        status: response.status,
        body: (await response.json()) as Record<string, unknown>,
      },
    };
  }
  const events: SseEvent[] = [];
  const collected: Collected = { changes: [], ended: undefined, close: () => abort.abort() };
  let heartbeats = 0;
  void (async () => {
    let text = '';
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        text += Buffer.from(chunk).toString('utf8');
        let end: number;
        while ((end = text.indexOf('\n\n')) !== -1) {
          const frame = text.slice(0, end);
          text = text.slice(end + 2);
          if (frame.startsWith(':')) {
            heartbeats++;
            continue;
          }
          const fields = new Map(
            frame.split('\n').map((line) => {
              const colon = line.indexOf(': ');
              return [line.slice(0, colon), line.slice(colon + 2)] as const;
            }),
          );
          const event: SseEvent = {
            event: fields.get('event') ?? 'message',
            id: fields.get('id'),
            data: JSON.parse(fields.get('data') ?? '{}') as Record<string, unknown>,
          };
          events.push(event);
          if (event.event === 'error') {
            collected.ended = event.data;
            continue;
          }
          collected.changes.push({
            kind: event.event,
            id: (event.data.id as string | undefined) ?? '',
            version: Number(event.data.version ?? 0),
            state: event.data.state as Record<string, unknown> | undefined,
            position: Number(event.data.position),
          });
        }
      }
      collected.ended ??= 'end';
    } catch {
      collected.ended ??= 'end'; // aborted by close()
    }
  })();
  return { refused: undefined, events, collected, heartbeats: () => heartbeats };
}

/**
 * Checks one subscriber's view: per aggregate, versions strictly increasing
 * and, for updates, each the one after the previous (no gap, no repeat).
 * Returns the problems found (empty when the view is clean).
 */
export function versionProblems(changes: readonly SeenChange[]): string[] {
  const last = new Map<string, number>();
  const problems: string[] = [];
  for (const change of changes) {
    if (change.kind === 'caught_up') continue;
    const before = last.get(change.id);
    if (before !== undefined && change.version !== before + 1) {
      problems.push(`${change.id}: ${change.kind} v${change.version} after v${before}`);
    }
    last.set(change.id, change.version);
  }
  return problems;
}
