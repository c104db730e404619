import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { get } from 'node:http';
import { SubscriberBuffer } from '@tenantfold/query/live';
import { afterEach, describe, expect, it } from 'vitest';
import { sseError, sseEvent, writeEvents } from '../src/ingress/sse.js';
import type { RoutedChange } from '../src/subscriptions/routedSubscription.js';

const change = (kind: RoutedChange['kind'], id: string, version: number, state: unknown) => ({
  kind,
  aggregate_id: id,
  version,
  state_json: JSON.stringify(state),
  updated_at: '2026-11-23T10:00:00.000Z',
  position: 40 + version,
});

describe('sseEvent', () => {
  it('frames a change: event kind, id <aggregate>:<version>, one line of JSON data', () => {
    expect(sseEvent(change('ENTERED', 'acc-1', 3, { balance: 150, note: 'a\nb' }))).toBe(
      'event: entered\nid: acc-1:3\ndata: {"id":"acc-1","version":3,"updated_at":"2026-11-23T10:00:00.000Z","position":43,"state":{"balance":150,"note":"a\\nb"}}\n\n',
    );
  });

  it('frames caught_up without an id (it names no aggregate)', () => {
    const caughtUp = { ...change('CAUGHT_UP', '', 0, null), state_json: '', position: 77 };
    expect(sseEvent(caughtUp)).toBe('event: caught_up\ndata: {"position":77}\n\n');
  });

  it('frames an error with the status it would have had', () => {
    expect(sseError(new Error('secret'))).toBe(
      'event: error\ndata: {"status":500,"code":"INTERNAL","message":"internal error"}\n\n',
    );
  });
});

/** A subscription stand-in: the real bounded buffer, closed and ended like RoutedSubscription. */
function source(capacity: number) {
  const changes = new SubscriberBuffer<RoutedChange>(capacity);
  let markEnded!: () => void;
  const ended = new Promise<void>((resolve) => (markEnded = resolve));
  let closed = 0;
  return {
    changes,
    ended,
    close() {
      closed++;
      changes.close();
      markEnded();
    },
    get closed() {
      return closed;
    },
    push(item: RoutedChange) {
      if (!changes.push(item)) markEnded();
    },
  };
}

let server: Server | undefined;
afterEach(() => {
  server?.closeAllConnections();
  server?.close();
  server = undefined;
});

async function serve(src: ReturnType<typeof source>, heartbeatMs: number): Promise<number> {
  server = createServer((_, res) => void writeEvents(res, src, { heartbeatMs }));
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function open(port: number): Promise<IncomingMessage> {
  return new Promise((resolve, reject) =>
    get({ host: '127.0.0.1', port, path: '/' }, resolve).on('error', reject),
  );
}

/** Collects a response's text; `until(text)` resolves once it has arrived, `ended` at the end. */
function reader(res: IncomingMessage) {
  let text = '';
  const waiters: Array<{ text: string; resolve: (all: string) => void }> = [];
  const ended = new Promise<string>((resolve) => {
    res.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      for (const waiter of waiters.filter((w) => text.includes(w.text))) waiter.resolve(text);
    });
    res.on('end', () => resolve(text));
  });
  return {
    ended,
    until: (wanted: string) =>
      text.includes(wanted)
        ? Promise.resolve(text)
        : new Promise<string>((resolve) => waiters.push({ text: wanted, resolve })),
  };
}

describe('writeEvents', () => {
  it('streams events with heartbeats and ends when the subscription does', async () => {
    const src = source(10);
    const res = await open(await serve(src, 50));
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-cache, no-transform');
    const read = reader(res);
    src.push(change('SNAPSHOT', 'acc-1', 2, { balance: 120 }));
    const first = await read.until(': heartbeat\n\n');
    expect(first.startsWith('event: snapshot\nid: acc-1:2\n')).toBe(true);
    src.push(change('LEFT', 'acc-1', 3, { balance: 10 }));
    src.changes.close();
    const all = await read.ended;
    expect(all).toContain('event: left\nid: acc-1:3\n');
    expect(all.endsWith('\n\n')).toBe(true);
  });

  it('closes the subscription when the client goes', async () => {
    const src = source(10);
    const res = await open(await serve(src, 1_000));
    res.destroy();
    await src.ended;
    expect(src.closed).toBeGreaterThan(0);
  });

  it('cuts a client that does not read: the buffer fills, the stream ends with a 503 error event', async () => {
    const src = source(5);
    const res = await open(await serve(src, 60_000));
    const read = reader(res);
    res.pause();
    const big = { blob: 'x'.repeat(256 * 1024) };
    // Kernel and stream buffers take a few MB; then changes wait in the bounded buffer.
    for (let version = 1; version <= 200 && !src.changes.ended; version++) {
      src.push(change('UPDATED', 'acc-1', version, big));
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect(src.changes.ended).toBe(true);
    res.resume();
    const text = await read.ended;
    const last = text.slice(text.lastIndexOf('event: '));
    expect(last.startsWith('event: error\ndata: ')).toBe(true);
    expect(JSON.parse(last.slice('event: error\ndata: '.length))).toMatchObject({
      status: 503,
      code: 'UNAVAILABLE',
      message: expect.stringContaining('subscriber too slow: 5 changes were waiting') as unknown,
    });
  });
});
