import type { AggregateType } from '@tenantfold/core';
import type { ProgramLimits, ProgramSource } from '../sandbox/index.js';

/** `aggregates.yaml`, validated, with its program files read. Frozen. */
export interface Manifest {
  /** The manifest's path as given to `loadManifest`; errors name it. */
  readonly file: string;
  /** Absolute directory that program paths are relative to. */
  readonly dir: string;
  /** The aggregate types, in file order. */
  readonly aggregates: readonly AggregateDefinition[];
}

/** One entry of `aggregates:` in the manifest. */
export interface AggregateDefinition {
  /** The key of the entry, a valid `AggregateType`. */
  readonly type: AggregateType;
  /** `decide:` the program that defines `decide(state, command)`. */
  readonly decide: ProgramFile;
  /** `apply:` the program that defines `evolve(state, event)` and `initialState()`. */
  readonly apply: ProgramFile;
  /** `snapshotEvery:` snapshot every N events; 0 never. @default the store's `snapshotEvery` */
  readonly snapshotEvery?: number;
  /** `maxRetries:` re-decides after a concurrent append at most this often. @default the store's `maxRetries` */
  readonly maxRetries?: number;
  /**
   * `limits: { cpuMs, memoryMb }`: this type's program limits, in ms and MB.
   * @default the runtime's limits (200 ms, 64 MB)
   */
  readonly limits: Partial<ProgramLimits>;
  /** `query:` settings for the query engine. @default `{ indexes: [] }` */
  readonly query: QuerySettings;
}

/** A program file named by the manifest, with its content. */
export interface ProgramFile extends ProgramSource {
  /** The path as written in the manifest, e.g. `./decide.js` (errors use it). */
  readonly filename: string;
  /** Absolute path of the file. */
  readonly path: string;
  /** The file's content, read when the manifest was loaded. */
  readonly code: string;
}

/** Kept for the query engine: not used by the programs themselves. */
export interface QuerySettings {
  /**
   * State fields to index, as dotted paths into the state (`balance`,
   * `owner.name`). @default []
   */
  readonly indexes: readonly string[];
}
