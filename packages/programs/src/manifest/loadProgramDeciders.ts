import { ValidationError } from '@tenantfold/core';
import { ProgramDecider } from '../decider/index.js';
import { ProgramProcessManager } from '../reactors/programProcessManager.js';
import { ProgramProjection } from '../reactors/programProjection.js';
import { ProgramRuntime } from '../sandbox/index.js';
import type { ManifestIssue } from './manifestError.js';
import { ManifestError } from './manifestError.js';
import type { Manifest } from './types.js';

export interface LoadProgramDecidersOptions {
  /**
   * Where the programs are compiled and run. Pass your own to control the
   * isolates' lifetime (`runtime.dispose()`) and the default limits.
   * @default ProgramRuntime.shared(), which lives as long as the process
   */
  readonly runtime?: ProgramRuntime;
}

/** Every program of a manifest, loaded. */
export interface ManifestPrograms {
  readonly deciders: readonly ProgramDecider[];
  readonly projections: readonly ProgramProjection[];
  readonly processManagers: readonly ProgramProcessManager[];
}

/**
 * One `ProgramDecider` per aggregate type of the manifest, in manifest order,
 * ready for `AggregateStore.builder(dir).aggregate(decider)`. Sources shared
 * between types (or between decide and apply) are compiled once.
 * @throws ManifestError naming the manifest, the field and the program file:
 *   a syntax error, a missing function, a top level that throws or exceeds a
 *   limit, an initialState() that fails
 */
export async function loadProgramDeciders(
  manifest: Manifest,
  options: LoadProgramDecidersOptions = {},
): Promise<readonly ProgramDecider[]> {
  const runtime = options.runtime ?? ProgramRuntime.shared();
  return loadEach(
    manifest,
    manifest.aggregates.map((aggregate) => ({
      field: (inner = 'decide') => `aggregates.${aggregate.type}.${inner}`,
      load: () =>
        ProgramDecider.load({
          type: aggregate.type,
          decide: aggregate.decide,
          apply: aggregate.apply,
          runtime,
          limits: aggregate.limits,
          ...(aggregate.snapshotEvery === undefined
            ? {}
            : { snapshotEvery: aggregate.snapshotEvery }),
          ...(aggregate.maxRetries === undefined ? {} : { maxRetries: aggregate.maxRetries }),
        }),
    })),
  );
}

/**
 * Every program of the manifest: deciders, projections (`initialState`,
 * `project`) and process managers (`react`), each checked for its contract.
 * Nothing is returned unless all load, so a caller never runs half a manifest.
 * @throws ManifestError listing every program that failed, by field
 */
export async function loadManifestPrograms(
  manifest: Manifest,
  options: LoadProgramDecidersOptions = {},
): Promise<ManifestPrograms> {
  const runtime = options.runtime ?? ProgramRuntime.shared();
  const reactor = (section: string, definition: Manifest['projections'][number]) => ({
    field: () => `${section}.${definition.name}.program`,
    options: {
      name: definition.name,
      subscribes: definition.subscribes,
      program: definition.program,
      runtime,
      limits: definition.limits,
    },
  });
  const [deciders, projections, processManagers] = await Promise.allSettled([
    loadProgramDeciders(manifest, { runtime }),
    loadEach(
      manifest,
      manifest.projections.map((p) => {
        const { field, options: o } = reactor('projections', p);
        return { field, load: () => ProgramProjection.load(o) };
      }),
    ),
    loadEach(
      manifest,
      manifest.processManagers.map((m) => {
        const { field, options: o } = reactor('processManagers', m);
        return { field, load: () => ProgramProcessManager.load(o) };
      }),
    ),
  ]);
  const issues: ManifestIssue[] = [];
  for (const result of [deciders, projections, processManagers]) {
    if (result.status === 'fulfilled') continue;
    if (!(result.reason instanceof ManifestError)) throw result.reason;
    issues.push(...result.reason.issues);
  }
  if (
    issues.length > 0 ||
    deciders.status !== 'fulfilled' ||
    projections.status !== 'fulfilled' ||
    processManagers.status !== 'fulfilled'
  ) {
    throw new ManifestError(manifest.file, issues);
  }
  return Object.freeze({
    deciders: deciders.value,
    projections: projections.value,
    processManagers: processManagers.value,
  });
}

/** Loads every entry; a `ValidationError` of any becomes one issue of a `ManifestError`. */
async function loadEach<T>(
  manifest: Manifest,
  entries: ReadonlyArray<{
    readonly field: (inner?: string) => string;
    readonly load: () => Promise<T>;
  }>,
): Promise<readonly T[]> {
  const loaded = await Promise.allSettled(entries.map((entry) => entry.load()));
  const values: T[] = [];
  const issues: ManifestIssue[] = [];
  let cause: unknown;
  loaded.forEach((result, i) => {
    if (result.status === 'fulfilled') {
      values.push(result.value);
      return;
    }
    const error: unknown = result.reason;
    if (!(error instanceof ValidationError)) throw error;
    cause ??= error;
    issues.push({ field: entries[i]?.field(error.field) ?? '', message: error.message });
  });
  if (issues.length > 0) throw new ManifestError(manifest.file, issues, { cause });
  return Object.freeze(values);
}
