import type { JetStreamManager, StreamConfig, StreamInfo } from '@nats-io/jetstream';
import { DiscardPolicy, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { FailedStore } from '../errors/index.js';
import { isStreamNameInUse, isStreamNotFound, natsCall, storeFailure } from '../errors/index.js';

/** The parts of a stream's configuration this package decides. */
export interface StreamSpec {
  readonly name: string;
  readonly subjects: readonly string[];
  readonly replicas: number;
  /** Window in which a repeated `Nats-Msg-Id` is dropped, in ms; server default when absent. */
  readonly duplicateWindowMs?: number;
  readonly description: string;
}

/** Settings an existing stream is brought to (the rest of its config is left alone). */
function wanted(spec: StreamSpec): Partial<StreamConfig> {
  return {
    subjects: [...spec.subjects],
    num_replicas: spec.replicas,
    allow_direct: true,
    ...(spec.duplicateWindowMs === undefined
      ? {}
      : { duplicate_window: nanos(spec.duplicateWindowMs) }),
  };
}

function differs(current: StreamConfig, want: Partial<StreamConfig>): boolean {
  const sameSubjects =
    want.subjects === undefined ||
    [...current.subjects].sort().join(' ') === [...want.subjects].sort().join(' ');
  return (
    !sameSubjects ||
    current.num_replicas !== want.num_replicas ||
    current.allow_direct !== want.allow_direct ||
    (want.duplicate_window !== undefined && current.duplicate_window !== want.duplicate_window)
  );
}

/**
 * Creates the stream, or brings an existing one to `spec` (subjects,
 * replicas, direct get, duplicate window). Safe to run from many processes
 * at once. Only settings nats-server 2.9 knows are used.
 */
export async function ensureStream(
  jsm: JetStreamManager,
  spec: StreamSpec,
  store: FailedStore = 'stream',
): Promise<StreamInfo> {
  const operation = `ensure stream ${spec.name}`;
  const want = wanted(spec);
  for (let attempt = 0; ; attempt++) {
    const existing = await natsCall({ store, operation }, async () => {
      try {
        return await jsm.streams.info(spec.name);
      } catch (error) {
        if (isStreamNotFound(error)) return undefined;
        throw error;
      }
    });
    if (existing === undefined) {
      const created = await natsCall({ store, operation }, async () => {
        try {
          return await jsm.streams.add({
            name: spec.name,
            description: spec.description,
            storage: StorageType.File,
            retention: RetentionPolicy.Limits,
            discard: DiscardPolicy.Old,
            ...want,
          });
        } catch (error) {
          // another process created it first: go round and update it
          if (isStreamNameInUse(error) && attempt < 3) return undefined;
          throw error;
        }
      });
      if (created !== undefined) return created;
      continue;
    }
    if (existing.config.storage !== StorageType.File) {
      throw storeFailure(
        { store, operation },
        `it exists with ${existing.config.storage} storage; tenantfold needs file storage, which an existing stream cannot change to`,
      );
    }
    if (!differs(existing.config, want)) return existing;
    return natsCall({ store, operation }, () => jsm.streams.update(spec.name, want));
  }
}
