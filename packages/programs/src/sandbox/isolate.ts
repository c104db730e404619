import { ValidationError } from '@tenantfold/core';
import ivm from 'isolated-vm';
import {
  BOOTSTRAP_FILENAME,
  BOOTSTRAP_SOURCE,
  standaloneProgram,
  wrapProgram,
} from './bootstrap.js';
import type { BatchMode, ProgramSource } from './program.js';

/**
 * `call(name, argsJson, mode)` inside the isolate (see the bootstrap); `name === null`
 * lists the defined functions, and mode `calls` runs independent calls, one outcome line each.
 */
export type CallFn = (name: string | null, argsJson: string, mode?: CrossingMode) => string;
export type CrossingMode = BatchMode | 'calls';
type InstallFn = (factory: unknown, limits: unknown) => CallFn;

/** What the bootstrap holds every result to (see `install` in the bootstrap). */
export interface ResultLimits {
  readonly jsonDepth: number;
  readonly stringChars: number;
  /** Longest result, in characters of JSON: a guard; exact byte limits are the host's. */
  readonly resultChars: number;
}

/** A started isolate and the bootstrap's `call` in it. */
export interface Live {
  readonly isolate: ivm.Isolate;
  readonly call: ivm.Reference<CallFn>;
  /** Whether program code has run on it (a fresh isolate holds nothing a call left). */
  used: boolean;
}

/** Counters shared with the runtime. */
export interface SandboxCounters {
  compiles: number;
  restarts: number;
  recycles: number;
}

/** What an isolate of a program is started with. */
export interface IsolateSpec {
  readonly source: ProgramSource;
  readonly memoryMb: number;
  /** Limit for running the program's top level once at load. */
  readonly cpuMs: number;
  readonly resultLimits: ResultLimits;
}

/** The bootstrap hardens a fresh context in well under this; it is not program code. */
const BOOTSTRAP_TIMEOUT_MS = 5_000;

/**
 * A new isolate with the bootstrap installed and the program compiled in
 * (`checkSyntax` first compiles the program on its own, so a syntax error
 * names the program's own lines).
 */
export async function startIsolate(
  spec: IsolateSpec,
  counters: SandboxCounters,
  { checkSyntax }: { checkSyntax: boolean },
): Promise<Live> {
  const { filename, code } = spec.source;
  const isolate = new ivm.Isolate({ memoryLimit: spec.memoryMb });
  try {
    const context = await isolate.createContext();
    const bootstrap = await isolate.compileScript(BOOTSTRAP_SOURCE, {
      filename: BOOTSTRAP_FILENAME,
    });
    const install = (await bootstrap.run(context, {
      reference: true,
      timeout: BOOTSTRAP_TIMEOUT_MS,
      release: true,
    })) as ivm.Reference<InstallFn>;
    if (checkSyntax) await compile(isolate, filename, standaloneProgram(code));
    const script = await compile(isolate, filename, wrapProgram(code));
    counters.compiles++;
    const factory = (await script.run(context, {
      reference: true,
      timeout: spec.cpuMs,
      release: true,
    })) as ivm.Reference<unknown>;
    const limits = new ivm.ExternalCopy(spec.resultLimits).copyInto({ release: true });
    const call = await install.apply(undefined, [factory.derefInto({ release: true }), limits], {
      result: { reference: true },
      timeout: BOOTSTRAP_TIMEOUT_MS,
    });
    install.release();
    return { isolate, call, used: false };
  } catch (error) {
    if (!isolate.isDisposed) isolate.dispose();
    throw error;
  }
}

async function compile(
  isolate: ivm.Isolate,
  filename: string,
  script: { readonly code: string; readonly columnOffset: number },
): Promise<ivm.Script> {
  try {
    return await isolate.compileScript(script.code, {
      filename,
      columnOffset: script.columnOffset,
    });
  } catch (error) {
    const { name, message } = error as Error;
    throw new ValidationError(`${filename}: ${name}: ${message}`, undefined, { cause: error });
  }
}
