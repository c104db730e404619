import type { ServerResponse } from 'node:http';
import type { RoutedChange } from '../subscriptions/routedSubscription.js';
import { drained } from './drained.js';
import { httpErrorOf } from './errorReply.js';

/** A comment line: keeps proxies and the client's idle timers from closing a quiet stream. */
export const SSE_HEARTBEAT = ': heartbeat\n\n';

/**
 * One change as a server-sent event: `event:` the kind in lowercase
 * (`snapshot`, `caught_up`, `entered`, `updated`, `left`), `id:`
 * `<aggregate id>:<version>` (none for caught_up), `data:` one line of JSON.
 */
export function sseEvent(change: RoutedChange): string {
  const kind = change.kind.toLowerCase();
  if (change.kind === 'CAUGHT_UP') {
    return `event: ${kind}\ndata: ${JSON.stringify({ position: change.position })}\n\n`;
  }
  const data = {
    id: change.aggregate_id,
    version: change.version,
    updated_at: change.updated_at,
    position: change.position,
    state: JSON.parse(change.state_json) as unknown,
  };
  return `event: ${kind}\nid: ${change.aggregate_id}:${change.version}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** How a stream ended with an error: `event: error` with the HTTP status it would have had. */
export function sseError(error: unknown): string {
  const { status, body } = httpErrorOf(error);
  return `event: error\ndata: ${JSON.stringify({ status, ...body })}\n\n`;
}

export interface SseOptions {
  /** Gap between heartbeat comments. */
  readonly heartbeatMs: number;
}

/** What the events come from: a routed subscription. */
export interface EventSource {
  readonly changes: AsyncIterable<RoutedChange>;
  /** Settles when the subscription has ended (cut, failed or closed). */
  readonly ended: Promise<void>;
  close(): void;
}

/** How long a cut client gets to read its `error` event before the socket is destroyed. */
const CUT_GRACE_MS = 2_000;

/**
 * Writes a subscription's changes to `res` as server-sent events until it
 * ends or the client goes. Honours the socket's backpressure: while the
 * client does not read, changes wait in the subscription's bounded buffer,
 * which cuts a client that stays behind; the stream then ends with an `error`
 * event naming the reason (status 503) and the socket is closed.
 */
export async function writeEvents(
  res: ServerResponse,
  source: EventSource,
  options: SseOptions,
): Promise<void> {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  const heartbeat = setInterval(() => res.write(SSE_HEARTBEAT), options.heartbeatMs);
  res.on('close', () => source.close());
  if (res.socket === null || res.socket.destroyed) source.close(); // gone while it was opened
  try {
    for await (const change of source.changes) {
      if (res.destroyed) break;
      if (!res.write(sseEvent(change))) await drained(res, source.ended);
    }
  } catch (error) {
    if (!res.destroyed) res.write(sseError(error));
  } finally {
    clearInterval(heartbeat);
    source.close();
    res.end();
    if (!res.writableFinished) setTimeout(() => res.destroy(), CUT_GRACE_MS).unref();
  }
}
