import { createHash } from 'node:crypto';
import type { DataLimits } from '@tenantfold/core';
import { DEFAULT_DATA_LIMITS, UnavailableError, ValidationError } from '@tenantfold/core';
import type { ProgramLimits } from './limits.js';
import { DEFAULT_PROGRAM_LIMITS, resolveLimits } from './limits.js';
import type { Program, ProgramSource } from './program.js';
import type { ResultLimits, SandboxCounters } from './isolate.js';
import { SandboxedProgram } from './sandboxedProgram.js';

export interface ProgramRuntimeOptions {
  /**
   * Limits for programs loaded without their own; each may be overridden per
   * load (per aggregate type in the manifest).
   * @default DEFAULT_PROGRAM_LIMITS: `{ cpuMs: 200, memoryMb: 64 }`
   */
  readonly limits?: Partial<ProgramLimits>;
  /**
   * Most isolates each program runs on at once, an integer from 1 to
   * {@link MAX_ISOLATES_PER_PROGRAM}. Calls to one program run in parallel on
   * up to this many isolates (each runs one call at a time, with the program's
   * own memory limit); isolates beyond the first are started only when every
   * existing one is busy. 1 runs all calls to a program one after another.
   * @default DEFAULT_ISOLATES_PER_PROGRAM (2)
   */
  readonly isolates?: number;
  /**
   * Limits on what programs return: nesting (`jsonDepth`) and string length
   * are enforced inside the isolate, on every result; sizes are checked
   * exactly by the callers (events per command, bytes per commit, state).
   * @default DEFAULT_DATA_LIMITS
   */
  readonly dataLimits?: DataLimits;
}

/** Isolates per program unless `ProgramRuntimeOptions.isolates` says otherwise. */
export const DEFAULT_ISOLATES_PER_PROGRAM = 2;

/** Largest accepted `ProgramRuntimeOptions.isolates`. */
export const MAX_ISOLATES_PER_PROGRAM = 64;

export interface ProgramRuntimeStats {
  /** Programs held, one per distinct (source hash, memory limit). */
  readonly programs: number;
  /**
   * Program compilations: one per isolate started, so the first load of a
   * source, each further isolate of its pool, and each restart after a
   * memory blow-up or a recycle.
   */
  readonly compiles: number;
  /** Isolates recreated after a call exhausted the memory limit. */
  readonly restarts: number;
  /**
   * Isolates disposed because a crossing left them holding more than half
   * their memory limit (a program keeping memory past its calls, or one
   * call's garbage not yet collected); each is started again when next needed.
   */
  readonly recycles: number;
}

/** sha256 of a program's source, hex: the key programs are cached by. */
export function contentHash(code: string): string {
  return createHash('sha256').update(code, 'utf8').digest('hex');
}

/**
 * Compiles programs and holds their isolates. A source is compiled once and
 * cached by its content hash: loading the same source again, under any file
 * name and for any aggregate type, returns the same `Program`. Each distinct
 * program has its own small pool of isolates (so its memory limit, its
 * failures and its threads are its own). Creating a runtime starts nothing; `dispose()` frees
 * every isolate.
 */
export class ProgramRuntime {
  /** The limits programs get unless a load overrides them. */
  readonly limits: ProgramLimits;
  /** Most isolates each program runs on at once. */
  readonly isolates: number;
  /** What program results are held to (see `ProgramRuntimeOptions.dataLimits`). */
  readonly dataLimits: DataLimits;
  private readonly resultLimits: ResultLimits;
  private readonly programs = new Map<string, Promise<SandboxedProgram>>();
  private readonly counters: SandboxCounters = { compiles: 0, restarts: 0, recycles: 0 };
  private disposed = false;

  constructor(options: ProgramRuntimeOptions = {}) {
    this.limits = resolveLimits(DEFAULT_PROGRAM_LIMITS, options.limits);
    const isolates = options.isolates ?? DEFAULT_ISOLATES_PER_PROGRAM;
    if (!Number.isInteger(isolates) || isolates < 1 || isolates > MAX_ISOLATES_PER_PROGRAM) {
      throw new ValidationError(
        `isolates: expected an integer from 1 to ${MAX_ISOLATES_PER_PROGRAM}, got ${JSON.stringify(isolates)}`,
        'isolates',
      );
    }
    this.isolates = isolates;
    this.dataLimits = options.dataLimits ?? DEFAULT_DATA_LIMITS;
    const { jsonDepth, stringChars, commitBytes, stateBytes, commandBytes } = this.dataLimits;
    // A coarse guard (characters, with room for the JSON around events); callers check bytes.
    const resultChars = 2 * Math.max(commitBytes, stateBytes, commandBytes);
    this.resultLimits = Object.freeze({ jsonDepth, stringChars, resultChars });
  }

  private static sharedRuntime: ProgramRuntime | undefined;

  /**
   * A process-wide runtime with the default limits, created on first use and
   * never disposed: for a service whose programs live as long as the process.
   * Tests and reloads should create (and dispose) their own.
   */
  static shared(): ProgramRuntime {
    ProgramRuntime.sharedRuntime ??= new ProgramRuntime();
    return ProgramRuntime.sharedRuntime;
  }

  get stats(): ProgramRuntimeStats {
    return {
      programs: this.programs.size,
      compiles: this.counters.compiles,
      restarts: this.counters.restarts,
      recycles: this.counters.recycles,
    };
  }

  /**
   * The compiled program for `source`, compiling it on first use. `limits`
   * overrides the runtime's: `memoryMb` is part of the cache key (a different
   * heap limit needs another isolate); `cpuMs` bounds the run of the top level
   * at first load (each call passes its own).
   * @throws ValidationError naming the file: syntax error, or a top level that
   *   throws or runs out of time or memory
   */
  load(source: ProgramSource, limits?: Partial<ProgramLimits>): Promise<Program> {
    if (this.disposed)
      return Promise.reject(new UnavailableError('the program runtime is disposed'));
    const { cpuMs, memoryMb } = resolveLimits(this.limits, limits);
    const hash = contentHash(source.code);
    const key = `${hash}:${memoryMb}`;
    const cached = this.programs.get(key);
    if (cached !== undefined) return cached;
    const started = SandboxedProgram.start(
      { source, hash, memoryMb, cpuMs, isolates: this.isolates, resultLimits: this.resultLimits },
      this.counters,
    );
    this.programs.set(key, started);
    started.catch(() => {
      if (this.programs.get(key) === started) this.programs.delete(key);
    });
    return started;
  }

  /** Disposes every isolate; later loads and calls fail with `UnavailableError`. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const program of this.programs.values()) {
      void program.then(
        (p) => p.dispose(),
        () => undefined,
      );
    }
    this.programs.clear();
  }
}
