import type { JetStreamClient, JetStreamManager, PubAck } from '@nats-io/jetstream';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type {
  AppendResult,
  Commit,
  EventLog,
  StoredCommit,
  StreamFilter,
  StreamKey,
} from '@tenantfold/core';
import { StreamError, StreamKey as Key, ValidationError } from '@tenantfold/core';
import { natsCall } from '../errors/index.js';
import type { ServerFeatures } from '../jetstream/index.js';
import {
  checkInteger,
  checkName,
  checkPrefix,
  ensureStream,
  exceededMaxPayload,
  requireServer,
  SubjectReader,
} from '../jetstream/index.js';
import { AckedPublisher } from './ackedPublisher.js';
import { checkCommit, decodeCommit, encodeCommit } from './commitCodec.js';
import { CommitSubjects } from './subjects.js';

/** Defaults of {@link JetStreamEventLogOptions}. */
export const EVENT_LOG_DEFAULTS = Object.freeze({
  streamName: 'EVENTS',
  subjectPrefix: '',
  replicas: 1,
  duplicateWindowMs: 120_000,
  requestTimeoutMs: 5_000,
});

export interface JetStreamEventLogOptions {
  /** An open connection. The log never closes it. */
  readonly nc: NatsConnection;
  /** Name of the JetStream stream holding every aggregate's commits. @default 'EVENTS' */
  readonly streamName?: string;
  /**
   * Put before every subject (`<prefix>tenant.<tenant>.aggregate.<type>.<id>`),
   * so several logs can share a server. Empty, or dot-terminated tokens. @default ''
   */
  readonly subjectPrefix?: string;
  /** Stream replicas (3 in a cluster). @default 1 */
  readonly replicas?: number;
  /**
   * How long the server drops a repeated command id (`Nats-Msg-Id`), in ms.
   * The engine recognises repeats beyond it from the stream itself.
   * @default 120_000
   */
  readonly duplicateWindowMs?: number;
  /** Timeout of each JetStream request, in ms. @default 5_000 */
  readonly requestTimeoutMs?: number;
}

/** What `open` has checked and set up. */
interface OpenedLog {
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly streamName: string;
  readonly subjectPrefix: string;
  readonly requestTimeoutMs: number;
  readonly server: ServerFeatures;
}

const MAX_WINDOW_MS = 7 * 24 * 3_600_000;
/**
 * The event log on a JetStream stream: one subject per aggregate, one message
 * per commit (its JSON), position = the message's stream sequence.
 *
 * An append is one publish with `Nats-Msg-Id = command_id` and the expected
 * last subject sequence, so a commit is atomic and concurrent writers cannot
 * interleave. Open it with {@link JetStreamEventLog.open}.
 */
export class JetStreamEventLog implements EventLog {
  /** Name of the stream. */
  readonly streamName: string;
  /** The subjects of aggregate streams under this log's prefix. */
  readonly subjects: CommitSubjects;
  /** What the connected server supports. */
  readonly server: ServerFeatures;
  private readonly nc: NatsConnection;
  private readonly jsm: JetStreamManager;
  private readonly js: JetStreamClient;
  private readonly publisher: AckedPublisher;
  private readonly reader: SubjectReader<StoredCommit>;
  /** Reads wildcard filters (many aggregates), where versions bound nothing. */
  private readonly filteredReader: SubjectReader<StoredCommit>;

  private constructor(parts: OpenedLog) {
    ({ nc: this.nc, jsm: this.jsm, streamName: this.streamName, server: this.server } = parts);
    this.js = parts.jsm.jetstream();
    this.publisher = new AckedPublisher(parts.nc, parts.requestTimeoutMs);
    this.subjects = new CommitSubjects(parts.subjectPrefix);
    const common = {
      jsm: this.jsm,
      js: this.js,
      stream: this.streamName,
      timeoutMs: parts.requestTimeoutMs,
      store: 'stream',
      decode: decodeCommit,
    } as const;
    // every commit holds at least one event
    this.reader = new SubjectReader({
      ...common,
      remainingAtMost: (first, last) => last.version - first.version,
    });
    this.filteredReader = new SubjectReader(common);
  }

  /** Checks the server, creates or updates the stream, and returns the log. */
  static async open(options: JetStreamEventLogOptions): Promise<JetStreamEventLog> {
    const streamName = checkName('streamName', options.streamName ?? EVENT_LOG_DEFAULTS.streamName);
    const prefix = checkPrefix(
      'subjectPrefix',
      options.subjectPrefix ?? EVENT_LOG_DEFAULTS.subjectPrefix,
    );
    const replicas = checkInteger(
      'replicas',
      options.replicas ?? EVENT_LOG_DEFAULTS.replicas,
      1,
      5,
    );
    const windowMs = checkInteger(
      'duplicateWindowMs',
      options.duplicateWindowMs ?? EVENT_LOG_DEFAULTS.duplicateWindowMs,
      100,
      MAX_WINDOW_MS,
    );
    const timeout = checkInteger(
      'requestTimeoutMs',
      options.requestTimeoutMs ?? EVENT_LOG_DEFAULTS.requestTimeoutMs,
      1,
      600_000,
    );
    const server = requireServer(options.nc);
    const jsm = await natsCall({ store: 'stream', operation: 'open JetStream' }, () =>
      jetstreamManager(options.nc, { timeout }),
    );
    await ensureStream(jsm, {
      name: streamName,
      subjects: [new CommitSubjects(prefix).all],
      replicas,
      duplicateWindowMs: windowMs,
      description: 'tenantfold aggregate commits, one subject per aggregate',
    });
    return new JetStreamEventLog({
      nc: options.nc,
      jsm,
      streamName,
      subjectPrefix: prefix,
      requestTimeoutMs: timeout,
      server,
    });
  }

  async append(commit: Commit, expectedPosition: number): Promise<AppendResult> {
    checkCommit(commit);
    if (!Number.isSafeInteger(expectedPosition) || expectedPosition < 0) {
      throw new ValidationError(`invalid expected position ${expectedPosition}`, 'position');
    }
    const subject = this.subjects.of(commit.stream);
    const data = encodeCommit(commit);
    const maxPayload = exceededMaxPayload(this.nc, data.length);
    if (maxPayload !== undefined) {
      throw new ValidationError(
        `the commit is ${data.length} bytes: too large for the server's max_payload of ${maxPayload}`,
        'events',
      );
    }
    const ack = await this.publish(subject, data, expectedPosition, commit.command_id);
    if (!ack.duplicate) return { commit: { ...commit, position: ack.seq }, duplicate: false };
    const original = await this.reader.getFromLeader(ack.seq);
    if (original === undefined) {
      throw new StreamError(
        `append to ${subject}: command ${commit.command_id} duplicates message ${ack.seq}, which is gone`,
      );
    }
    if (original.subject === subject) return { commit: decodeCommit(original), duplicate: true };
    // The server deduplicates message ids stream-wide, but a command id is unique per aggregate
    // only (an imported event keeps its causation): this is not a repeat here. The expected
    // sequence alone keeps the append safe; only an append this rare goes without a message id.
    const again = await this.publish(subject, data, expectedPosition, undefined);
    return { commit: { ...commit, position: again.seq }, duplicate: false };
  }

  private async publish(
    subject: string,
    data: Uint8Array,
    expectedPosition: number,
    msgID: string | undefined,
  ): Promise<PubAck> {
    const ack = await natsCall(
      { store: 'stream', operation: `append to ${subject}`, expectedPosition },
      () =>
        this.publisher.publish(subject, data, {
          ...(msgID === undefined ? {} : { msgID }),
          lastSubjectSequence: expectedPosition,
        }),
    );
    if (ack.stream !== this.streamName) {
      throw new StreamError(
        `append to ${subject}: stored by stream '${ack.stream}', not '${this.streamName}'`,
      );
    }
    return ack;
  }

  read(key: StreamKey, afterPosition = 0): AsyncIterable<StoredCommit> {
    if (!Number.isSafeInteger(afterPosition) || afterPosition < 0) {
      throw new ValidationError(`invalid position ${afterPosition}`, 'position');
    }
    return this.reader.read(this.subjects.of(key), afterPosition);
  }

  /**
   * Commits of every aggregate the filter selects, after `afterPosition`, in
   * stream-sequence order: one ordered read of a wildcard subject (direct gets
   * for a few, an ephemeral consumer for more), not one read per aggregate.
   * Several types are read through the tenant's (or the whole log's) filter
   * and the others skipped.
   */
  async *readAll(filter: StreamFilter = {}, afterPosition = 0): AsyncIterable<StoredCommit> {
    if (!Number.isSafeInteger(afterPosition) || afterPosition < 0) {
      throw new ValidationError(`invalid position ${afterPosition}`, 'position');
    }
    const types = filter.types;
    if (types?.length === 0) return;
    const only = types?.length === 1 ? types[0] : undefined;
    const subject = this.subjects.filter(filter.tenant, only);
    const wanted = types === undefined || only !== undefined ? undefined : new Set<string>(types);
    for await (const commit of this.filteredReader.read(subject, afterPosition)) {
      if (wanted === undefined || wanted.has(commit.stream.type)) yield commit;
    }
  }

  async readAt(key: StreamKey, position: number): Promise<StoredCommit | undefined> {
    if (!Number.isSafeInteger(position) || position <= 0) return undefined;
    // A direct get may be answered by a replica that lags: ask the leader before saying "none".
    const message =
      (await this.reader.get(position)) ?? (await this.reader.getFromLeader(position));
    if (message === undefined || message.subject !== this.subjects.of(key)) return undefined;
    return decodeCommit(message);
  }

  /** The stream's last sequence: every commit appended so far is at or below it. */
  async lastPosition(): Promise<number> {
    const info = await natsCall({ store: 'stream', operation: 'last position' }, () =>
      this.jsm.streams.info(this.streamName),
    );
    return info.state.last_seq;
  }

  async *streams(filter: StreamFilter = {}): AsyncIterable<StreamKey> {
    const filters =
      filter.types === undefined
        ? [this.subjects.filter(filter.tenant)]
        : filter.types.map((type) => this.subjects.filter(filter.tenant, type));
    const keys: StreamKey[] = [];
    for (const subjectsFilter of filters) {
      const info = await natsCall({ store: 'stream', operation: `list ${subjectsFilter}` }, () =>
        this.jsm.streams.info(this.streamName, { subjects_filter: subjectsFilter }),
      );
      for (const [subject, count] of Object.entries(info.state.subjects ?? {})) {
        if (count > 0) keys.push(this.subjects.parse(subject));
      }
    }
    keys.sort((a, b) => compare(Key.toString(a), Key.toString(b)));
    yield* keys;
  }

  /** Stops taking acks; the connection belongs to the caller. */
  close(): Promise<void> {
    this.publisher.close();
    return Promise.resolve();
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
