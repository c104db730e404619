import type { AggregateType, EventEnvelope, StreamKey } from '../domain/index.js';
import { AggregateType as Type, StreamKey as Key } from '../domain/index.js';
import type { EventLog } from '../eventLog/index.js';

/** Position reached in each stream, by `StreamKey.toString`. */
export type Cursors = Record<string, number>;

/**
 * Walks every subscribed stream past its cursor, calling `visit` for each new
 * event in stream order, and advances the cursors. Returns how many events it
 * visited. Cursors only move in memory: the caller checkpoints them.
 */
export async function catchUpStreams(
  log: EventLog,
  subscribes: readonly string[],
  cursors: Cursors,
  visit: (event: EventEnvelope, stream: StreamKey) => Promise<void> | void,
): Promise<number> {
  const types: AggregateType[] = subscribes.map((t) => Type.parse(t, 'subscribes'));
  let visited = 0;
  for await (const stream of log.streams({ types })) {
    const name = Key.toString(stream);
    for await (const commit of log.read(stream, cursors[name] ?? 0)) {
      for (const event of commit.events) {
        await visit(event, stream);
        visited++;
      }
      cursors[name] = commit.position;
    }
  }
  return visited;
}
