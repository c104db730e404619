import type { JsonValue } from '@tenantfold/core';
import { ProgramLimitError, UnavailableError, ValidationError } from '@tenantfold/core';
import ivm from 'isolated-vm';
import type { ProgramFunction } from './bootstrap.js';
import {
  BOOTSTRAP_FILENAME,
  BOOTSTRAP_SOURCE,
  OUTCOME_FAULT,
  OUTCOME_REJECTED,
  OUTCOME_RETURNED,
  PROGRAM_FUNCTIONS,
  standaloneProgram,
  wrapProgram,
} from './bootstrap.js';
import type { BatchMode, CallOptions, CallOutcome, Program, ProgramSource } from './program.js';

/** `call(name, argsJson)` inside the isolate; `name === null` lists the defined functions. */
type CallFn = (name: string | null, argsJson: string, mode?: BatchMode) => string;
type InstallFn = (factory: unknown) => CallFn;

interface Live {
  readonly isolate: ivm.Isolate;
  readonly call: ivm.Reference<CallFn>;
}

/** Counters shared with the runtime. */
export interface SandboxCounters {
  compiles: number;
  restarts: number;
}

export interface SandboxedProgramSpec {
  readonly source: ProgramSource;
  readonly hash: string;
  readonly memoryMb: number;
  /** Limit for running the program's top level once at load. */
  readonly cpuMs: number;
  /** Most isolates the program may run on at once (at least 1). */
  readonly isolates: number;
}

/** One isolate of a program's pool; it runs at most one call at a time. */
interface Slot {
  /** The isolate, or undefined until (re)started by the next call given this slot. */
  live: Live | undefined;
  /** Whether a call holds this slot. */
  busy: boolean;
  /** Whether the slot's isolate was disposed by a call that exhausted the memory limit. */
  blown: boolean;
}

/** The bootstrap hardens a fresh context in well under this; it is not program code. */
const BOOTSTRAP_TIMEOUT_MS = 5_000;

/** isolated-vm's message for a call stopped by its `timeout` (the library has no error codes). */
const TIMED_OUT = 'Script execution timed out.';

/** Longest message copied out of a program into an error. */
const MAX_MESSAGE_CHARS = 2_000;

/**
 * One program on a small pool of isolates (up to `spec.isolates`, started
 * lazily: a new isolate is started only when every existing one is busy).
 * Each isolate runs one call at a time, so a call that exhausts the memory
 * limit is the only one in flight on its isolate: it alone fails, and only
 * that isolate is disposed and restarted, on the next call given to it.
 * Calls beyond the pool wait, first come first served, for a free isolate.
 */
export class SandboxedProgram implements Program {
  private readonly slots: Slot[] = [];
  private readonly waiting: {
    resolve: (slot: Slot) => void;
    reject: (error: Error) => void;
  }[] = [];
  private disposed = false;
  private defined: ReadonlySet<ProgramFunction> = new Set();

  private constructor(
    private readonly spec: SandboxedProgramSpec,
    private readonly counters: SandboxCounters,
    live: Live,
  ) {
    this.slots.push({ live, busy: false, blown: false });
  }

  get functions(): ReadonlySet<ProgramFunction> {
    return this.defined;
  }

  get hash(): string {
    return this.spec.hash;
  }

  get filename(): string {
    return this.spec.source.filename;
  }

  get memoryMb(): number {
    return this.spec.memoryMb;
  }

  /**
   * Compiles the program into a new isolate and runs its top level once, to
   * learn which functions it defines.
   * @throws ValidationError naming the file for syntax errors and a top level
   *   that throws or runs out of time or memory
   */
  static async start(
    spec: SandboxedProgramSpec,
    counters: SandboxCounters,
  ): Promise<SandboxedProgram> {
    const { filename } = spec.source;
    const live = await startIsolate(spec, counters, { checkSyntax: true });
    const program = new SandboxedProgram(spec, counters, live);
    let listed: CallOutcome;
    try {
      listed = await program.invoke(null, [], spec.cpuMs);
    } catch (error) {
      program.dispose();
      throw new ValidationError(`${filename}: ${(error as Error).message}`, undefined, {
        cause: error,
      });
    }
    if (listed.kind !== 'returned') {
      program.dispose();
      const what = listed.kind === 'failed' ? `${listed.name}: ${listed.message}` : listed.message;
      throw new ValidationError(`${filename}: top-level code threw ${what}`);
    }
    const names = JSON.parse(listed.json) as string[];
    program.defined = new Set(PROGRAM_FUNCTIONS.filter((name) => names.includes(name)));
    return program;
  }

  call(
    fn: ProgramFunction,
    args: readonly JsonValue[],
    options: CallOptions,
  ): Promise<CallOutcome> {
    return this.invoke(fn, args, options.cpuMs);
  }

  callBatch(
    fn: ProgramFunction,
    mode: BatchMode,
    args: JsonValue,
    options: CallOptions,
  ): Promise<CallOutcome> {
    return this.invoke(fn, args, options.cpuMs, mode);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const slot of this.slots) {
      if (slot.live !== undefined && !slot.live.isolate.isDisposed) slot.live.isolate.dispose();
      slot.live = undefined;
    }
    const unavailable = new UnavailableError('the program runtime is disposed');
    for (const waiter of this.waiting.splice(0)) waiter.reject(unavailable);
  }

  private async invoke(
    fn: ProgramFunction | null,
    args: JsonValue | readonly JsonValue[],
    cpuMs: number,
    mode?: BatchMode,
  ): Promise<CallOutcome> {
    const argsJson = JSON.stringify(args);
    const slot = await this.acquire();
    try {
      return await this.run(slot, fn, argsJson, cpuMs, mode);
    } finally {
      this.release(slot);
    }
  }

  /** A free slot: one with a live isolate, else a blown one, else a new one, else the next freed. */
  private acquire(): Promise<Slot> {
    if (this.disposed) {
      return Promise.reject(new UnavailableError('the program runtime is disposed'));
    }
    let free: Slot | undefined;
    for (const slot of this.slots) {
      if (slot.busy) continue;
      if (slot.live !== undefined) {
        free = slot;
        break;
      }
      free ??= slot;
    }
    if (free === undefined && this.slots.length < this.spec.isolates) {
      free = { live: undefined, busy: false, blown: false };
      this.slots.push(free);
    }
    if (free !== undefined) {
      free.busy = true;
      return Promise.resolve(free);
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private release(slot: Slot): void {
    const next = this.waiting.shift();
    if (next !== undefined && !this.disposed) next.resolve(slot);
    else slot.busy = false;
  }

  private async run(
    slot: Slot,
    fn: ProgramFunction | null,
    argsJson: string,
    cpuMs: number,
    mode: BatchMode | undefined,
  ): Promise<CallOutcome> {
    const live = await this.ensureLive(slot);
    const label = fn ?? 'top-level code';
    let raw: string;
    try {
      raw = await live.call.apply(undefined, [fn, argsJson, mode], { timeout: cpuMs });
    } catch (error) {
      if (this.disposed) throw new UnavailableError('the program runtime is disposed');
      if (live.isolate.isDisposed) {
        slot.live = undefined; // recreated by the next call given this slot
        slot.blown = true;
        throw new ProgramLimitError(
          `${label} exceeded the memory limit of ${this.spec.memoryMb} MB; its isolate is restarted`,
          { cause: error },
        );
      }
      if (error instanceof Error && error.message === TIMED_OUT) {
        throw new ProgramLimitError(`${label} exceeded the CPU limit of ${cpuMs} ms`, {
          cause: error,
        });
      }
      // Anything else surfacing from the isolate (e.g. `import()`, which has no loader)
      // is the program's fault.
      const { name, message } = error instanceof Error ? error : new Error(String(error));
      return { kind: 'failed', name, message: clip(message) };
    }
    return decode(raw);
  }

  private async ensureLive(slot: Slot): Promise<Live> {
    if (this.disposed) throw new UnavailableError('the program runtime is disposed');
    if (slot.live !== undefined && !slot.live.isolate.isDisposed) return slot.live;
    if (slot.live !== undefined) slot.blown = true; // disposed outside a call: still a restart
    const live = await startIsolate(this.spec, this.counters, { checkSyntax: false });
    if (this.disposed) {
      live.isolate.dispose();
      throw new UnavailableError('the program runtime is disposed');
    }
    if (slot.blown) this.counters.restarts++;
    slot.blown = false;
    slot.live = live;
    return live;
  }
}

async function startIsolate(
  spec: SandboxedProgramSpec,
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
    const call = await install.apply(undefined, [factory.derefInto({ release: true })], {
      result: { reference: true },
      timeout: BOOTSTRAP_TIMEOUT_MS,
    });
    install.release();
    return { isolate, call };
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

function decode(raw: string): CallOutcome {
  const body = raw.slice(1);
  switch (raw[0]) {
    case OUTCOME_RETURNED:
      return { kind: 'returned', json: body };
    case OUTCOME_REJECTED: {
      const { message } = JSON.parse(body) as { message: string };
      return { kind: 'rejected', message: clip(message) };
    }
    case OUTCOME_FAULT: {
      const { name, message } = JSON.parse(body) as { name: string; message: string };
      return { kind: 'failed', name, message: clip(message) };
    }
    default:
      throw new Error(`unexpected sandbox reply ${JSON.stringify(raw.slice(0, 40))}`);
  }
}

function clip(message: string): string {
  return message.length <= MAX_MESSAGE_CHARS
    ? message
    : `${message.slice(0, MAX_MESSAGE_CHARS)}… (${message.length} characters)`;
}
