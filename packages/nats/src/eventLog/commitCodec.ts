import type { Commit, StoredCommit } from '@tenantfold/core';
import { isJsonObject, StreamError, ValidationError } from '@tenantfold/core';
import type { SubjectMessage } from '../jetstream/index.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Refuses a commit that cannot be one atomic append: no events, or versions that do not add up. */
export function checkCommit(commit: Commit): void {
  const { events } = commit;
  if (events.length === 0) throw new ValidationError('a commit needs at least one event', 'events');
  events.forEach((event, i) => {
    if (event.version !== commit.version - events.length + 1 + i) {
      throw new ValidationError(
        `event ${i} has version ${event.version}; a commit at version ${commit.version} with ${events.length} events needs ${commit.version - events.length + 1 + i}`,
        'version',
      );
    }
  });
}

/** The message body of a commit: its JSON (the position is the message's sequence). */
export function encodeCommit(commit: Commit): Uint8Array {
  const { command_id, stream, version, events, timestamp } = commit;
  return encoder.encode(JSON.stringify({ command_id, stream, version, events, timestamp }));
}

export function decodeCommit(message: SubjectMessage): StoredCommit {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(message.data));
  } catch (cause) {
    throw new StreamError(`message ${message.seq} on ${message.subject} is not JSON`, { cause });
  }
  if (
    !isJsonObject(value) ||
    typeof value.command_id !== 'string' ||
    typeof value.version !== 'number' ||
    !Array.isArray(value.events) ||
    !isJsonObject(value.stream)
  ) {
    throw new StreamError(`message ${message.seq} on ${message.subject} is not a commit`);
  }
  return { ...(value as unknown as Commit), position: message.seq };
}
