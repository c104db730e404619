import type { JetStreamClient } from '@nats-io/jetstream';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { DeadLetter, DeadLetterStore } from '@tenantfold/core';
import { isJsonObject, StorageError, ValidationError } from '@tenantfold/core';
import { natsCall } from '../errors/index.js';
import type { SubjectMessage } from '../jetstream/index.js';
import {
  checkInteger,
  checkName,
  checkPrefix,
  ensureStream,
  requireServer,
  SubjectReader,
} from '../jetstream/index.js';

/** Defaults of {@link JetStreamDeadLetterStoreOptions}. */
export const DEAD_LETTER_STORE_DEFAULTS = Object.freeze({
  streamName: 'DEAD_LETTERS',
  subjectPrefix: '',
  replicas: 1,
  requestTimeoutMs: 5_000,
});

export interface JetStreamDeadLetterStoreOptions {
  /** An open connection. The store never closes it. */
  readonly nc: NatsConnection;
  /** Name of the stream of dead letters. @default 'DEAD_LETTERS' */
  readonly streamName?: string;
  /** Put before the subjects (`<prefix>deadletters.<process-manager>`). @default '' */
  readonly subjectPrefix?: string;
  /** Stream replicas (3 in a cluster). @default 1 */
  readonly replicas?: number;
  /** Timeout of each JetStream request, in ms. @default 5_000 */
  readonly requestTimeoutMs?: number;
}

const PROCESS_MANAGER = /^[A-Za-z0-9_-]{1,64}$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function decodeLetter(message: SubjectMessage): DeadLetter {
  try {
    const value: unknown = JSON.parse(decoder.decode(message.data));
    if (isJsonObject(value) && isJsonObject(value.error) && typeof value.ts === 'string') {
      return value as unknown as DeadLetter;
    }
  } catch {
    // reported below
  }
  throw new StorageError(`message ${message.seq} on ${message.subject} is not a dead letter`);
}

/**
 * Dead letters of process managers on a JetStream stream, one subject per
 * process manager: an append-only log, like the file store's JSONL, so
 * concurrent appends never conflict and `list` reads one subject in order.
 */
export class JetStreamDeadLetterStore implements DeadLetterStore {
  private constructor(
    private readonly js: JetStreamClient,
    private readonly reader: SubjectReader<DeadLetter>,
    /** Name of the stream. */
    readonly streamName: string,
    private readonly prefix: string,
  ) {}

  static async open(options: JetStreamDeadLetterStoreOptions): Promise<JetStreamDeadLetterStore> {
    const d = DEAD_LETTER_STORE_DEFAULTS;
    const streamName = checkName('deadLetterStream', options.streamName ?? d.streamName);
    const prefix = checkPrefix('subjectPrefix', options.subjectPrefix ?? d.subjectPrefix);
    const replicas = checkInteger('replicas', options.replicas ?? d.replicas, 1, 5);
    const timeout = checkInteger(
      'requestTimeoutMs',
      options.requestTimeoutMs ?? d.requestTimeoutMs,
      1,
      600_000,
    );
    requireServer(options.nc);
    const jsm = await natsCall({ store: 'storage', operation: 'open JetStream' }, () =>
      jetstreamManager(options.nc, { timeout }),
    );
    await ensureStream(
      jsm,
      {
        name: streamName,
        subjects: [`${prefix}deadletters.*`],
        replicas,
        description: 'tenantfold process-manager dead letters, one subject per process manager',
      },
      'storage',
    );
    const js = jsm.jetstream();
    const reader = new SubjectReader({
      jsm,
      js,
      stream: streamName,
      timeoutMs: timeout,
      store: 'storage',
      decode: decodeLetter,
    });
    return new JetStreamDeadLetterStore(js, reader, streamName, prefix);
  }

  async append(processManager: string, letter: DeadLetter): Promise<void> {
    const subject = this.subjectOf(processManager);
    const data = encodeLetter(letter);
    const ack = await natsCall({ store: 'storage', operation: `dead-letter to ${subject}` }, () =>
      this.js.publish(subject, data),
    );
    if (ack.stream !== this.streamName) {
      throw new StorageError(
        `dead-letter to ${subject}: stored by stream '${ack.stream}', not '${this.streamName}'`,
      );
    }
  }

  async list(processManager: string): Promise<DeadLetter[]> {
    const letters: DeadLetter[] = [];
    for await (const letter of this.reader.read(this.subjectOf(processManager), 0)) {
      letters.push(letter);
    }
    return letters;
  }

  private subjectOf(processManager: string): string {
    if (!PROCESS_MANAGER.test(processManager)) {
      throw new ValidationError(
        `invalid process manager name ${JSON.stringify(processManager)}`,
        'processManager',
      );
    }
    return `${this.prefix}deadletters.${processManager}`;
  }
}

/** Largest dead letter stored whole; a program's oversized command keeps only its ids. */
const MAX_LETTER_BYTES = 512 * 1024;

/**
 * The letter as stored. A command refused for its size would be refused
 * again by the stream (max_payload), and that failure would count against
 * the NATS breaker: it is kept with its ids and error, its payload dropped.
 */
function encodeLetter(letter: DeadLetter): Uint8Array {
  const data = encoder.encode(JSON.stringify(letter));
  if (data.length <= MAX_LETTER_BYTES) return data;
  const envelope = isJsonObject(letter.envelope) ? letter.envelope : {};
  const ids = ['tenant_id', 'command_id', 'aggregate_type', 'aggregate_id'] as const;
  const kept = Object.fromEntries(
    ids.flatMap((key) => (key in envelope ? [[key, envelope[key]!]] : [])),
  );
  return encoder.encode(
    JSON.stringify({ ...letter, envelope: { ...kept, payload_dropped_bytes: data.length } }),
  );
}
