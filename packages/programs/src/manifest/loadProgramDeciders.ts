import { ValidationError } from '@tenantfold/core';
import { ProgramDecider } from '../decider/index.js';
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
  const loaded = await Promise.allSettled(
    manifest.aggregates.map((aggregate) =>
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
    ),
  );
  const deciders: ProgramDecider[] = [];
  const issues: ManifestIssue[] = [];
  let cause: unknown;
  loaded.forEach((result, i) => {
    if (result.status === 'fulfilled') {
      deciders.push(result.value);
      return;
    }
    const error: unknown = result.reason;
    if (!(error instanceof ValidationError)) throw error;
    cause ??= error;
    issues.push({
      field: `aggregates.${manifest.aggregates[i]?.type}.${error.field ?? 'decide'}`,
      message: error.message,
    });
  });
  if (issues.length > 0) throw new ManifestError(manifest.file, issues, { cause });
  return Object.freeze(deciders);
}
