import type {
  AggregateStoreOptions,
  CheckpointStore,
  DeadLetterStore,
  EventLog,
  Logger,
  StorageBackend,
  TenantId,
} from '@tenantfold/core';
import { AggregateStore, DEFAULT_DATA_LIMITS } from '@tenantfold/core';
import type { Manifest } from '@tenantfold/programs';
import { loadManifest, loadManifestPrograms, ProgramRuntime } from '@tenantfold/programs';
import type { Dispatch } from '../reactors/index.js';
import { ReadModelRunner } from '../reactors/index.js';

export interface NodeEngineDeps {
  /** The node's storage (behind its breaker); the engine never closes it. */
  readonly backend: StorageBackend;
  /** Read models read, checkpoint and dead-letter here (the log needs `readAll`). */
  readonly readModelStorage: {
    readonly log: EventLog;
    readonly checkpoints: CheckpointStore;
    readonly deadLetters: DeadLetterStore;
  };
  readonly storeOptions: Partial<AggregateStoreOptions>;
  readonly dispatch: Dispatch;
  readonly owns: (tenant: TenantId) => boolean;
  readonly mayDispatch: (tenant: TenantId) => boolean;
  readonly logger: Logger;
  /** @see ReadModelRunnerOptions.sweepMs */
  readonly sweepMs: number;
  /** @see ReadModelRunnerOptions.onSkipped */
  readonly onSkipped?: (projection: string) => void;
}

/** What a projection's checkpoint holds beside its document (position, skipped commits). */
const CHECKPOINT_ROOM_BYTES = 64 * 1024;

/** A projection document's limit: the state limit less the checkpoint's own room. */
function projectionStateBytes(stateBytes: number): number {
  return Math.max(stateBytes - CHECKPOINT_ROOM_BYTES, Math.ceil(stateBytes / 2));
}

/**
 * Everything a manifest makes of the node: its programs (on a runtime of
 * their own), the aggregate store over the node's storage, and the read-model
 * runner. A reload loads a whole new engine, then retires the old one.
 */
export class NodeEngine {
  private constructor(
    readonly manifest: Manifest,
    readonly store: AggregateStore,
    readonly readModels: ReadModelRunner,
    private readonly runtime: ProgramRuntime,
  ) {}

  /**
   * Reads the manifest and compiles every program before building anything.
   * @throws ManifestError listing every problem; nothing is left running
   */
  static async load(manifestPath: string, deps: NodeEngineDeps): Promise<NodeEngine> {
    const limits = deps.storeOptions.limits;
    const runtime = new ProgramRuntime(limits === undefined ? {} : { dataLimits: limits });
    try {
      const manifest = await loadManifest(manifestPath);
      const programs = await loadManifestPrograms(manifest, { runtime });
      let builder = AggregateStore.builder({
        ...deps.backend,
        close: () => Promise.resolve(), // the node's, closed by the node
      }).with(deps.storeOptions);
      for (const decider of programs.deciders) builder = builder.aggregate(decider);
      const store = await builder.open();
      const readModels = new ReadModelRunner({
        ...deps.readModelStorage,
        projections: programs.projections,
        processManagers: programs.processManagers,
        dispatch: deps.dispatch,
        owns: deps.owns,
        mayDispatch: deps.mayDispatch,
        logger: deps.logger,
        sweepMs: deps.sweepMs,
        // Room in the checkpoint (NATS max_payload, 1 MiB by default) for the position and the skip list.
        maxStateBytes: projectionStateBytes((limits ?? DEFAULT_DATA_LIMITS).stateBytes),
        tailsCommits: true, // the node's commit observer hands it every commit (wiring.ts, engineLoader)
        ...(deps.onSkipped === undefined ? {} : { onSkipped: deps.onSkipped }),
      });
      return new NodeEngine(manifest, store, readModels, runtime);
    } catch (error) {
      runtime.dispose();
      throw error;
    }
  }

  /** What the manifest declares, for logs and the reload answer. */
  get summary(): { aggregates: string[]; projections: string[]; processManagers: string[] } {
    return {
      aggregates: this.manifest.aggregates.map((a) => a.type),
      projections: this.manifest.projections.map((p) => p.name),
      processManagers: this.manifest.processManagers.map((m) => m.name),
    };
  }

  /** Stops the read models, lets commands in flight finish, snapshots, frees the programs. */
  async close(): Promise<void> {
    await this.readModels.stop();
    await this.store.close(); // flushes; the shared backend stays open
    this.runtime.dispose();
  }
}
