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
  /** `projections:` read models folded per tenant, in file order. @default [] */
  readonly projections: readonly ReactorDefinition[];
  /** `processManagers:` programs that answer events with commands, in file order. @default [] */
  readonly processManagers: readonly ReactorDefinition[];
}

/**
 * One entry of `projections:` or `processManagers:`: a program run on the
 * events of the aggregate types it subscribes to.
 */
export interface ReactorDefinition {
  /** The key of the entry: `[A-Za-z0-9_-]{1,64}`, unique within its section. */
  readonly name: string;
  /** `subscribes:` aggregate types of this manifest whose events the program sees. */
  readonly subscribes: readonly AggregateType[];
  /**
   * `program:` a projection defines `initialState()` and `project(state, event)`;
   * a process manager defines `react(event)`.
   */
  readonly program: ProgramFile;
  /** `limits: { cpuMs, memoryMb }`. @default the runtime's limits */
  readonly limits: Partial<ProgramLimits>;
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
