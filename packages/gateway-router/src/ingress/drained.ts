import type { EventEmitter } from 'node:events';

const WAKE_EVENTS = ['drain', 'close', 'cancelled'] as const;

/**
 * Resolves when a response stream (HTTP or gRPC) takes writes again, its
 * client went away, or the subscription feeding it ended — whichever first.
 */
export function drained(stream: EventEmitter, ended: Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      for (const event of WAKE_EVENTS) stream.off(event, done);
      resolve();
    };
    for (const event of WAKE_EVENTS) stream.on(event, done);
    void ended.then(done);
  });
}
