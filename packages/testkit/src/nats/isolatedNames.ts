/** Stream, subject prefix and bucket names of one test file or bench run, so runs never share data. */
export interface IsolatedNames {
  readonly storage: {
    readonly streamName: string;
    readonly subjectPrefix: string;
    readonly snapshotBucket: string;
    readonly checkpointBucket: string;
    readonly deadLetterStream: string;
  };
  readonly placementBucket: string;
}

/** Fresh names with a random suffix; `tag` starts the subject prefix (it must be a letter). */
export function isolatedNames(tag = 'n'): IsolatedNames {
  const suffix = Math.random().toString(36).slice(2, 8);
  return {
    storage: {
      streamName: `EVENTS_${suffix}`,
      subjectPrefix: `${tag}${suffix}.`,
      snapshotBucket: `SNAPSHOTS_${suffix}`,
      checkpointBucket: `CHECKPOINTS_${suffix}`,
      deadLetterStream: `DEAD_LETTERS_${suffix}`,
    },
    placementBucket: `PLACEMENT_${suffix}`,
  };
}

/** The JetStream streams behind `names` (KV buckets are streams `KV_<bucket>`), to delete after a run. */
export function streamsOf(names: IsolatedNames): string[] {
  const { storage, placementBucket } = names;
  return [
    storage.streamName,
    storage.deadLetterStream,
    `KV_${storage.snapshotBucket}`,
    `KV_${storage.checkpointBucket}`,
    `KV_${placementBucket}`,
  ];
}
