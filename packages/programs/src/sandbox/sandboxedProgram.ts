import type { JsonValue } from '@tenantfold/core';
import { ProgramLimitError, UnavailableError, ValidationError } from '@tenantfold/core';
import ivm from 'isolated-vm';
import type { ProgramFunction } from './bootstrap.js';
import {
  BOOTSTRAP_FILENAME,
  BOOTSTRAP_SOURCE,
  OUTCOME_FAULT,
  OUTCOME_LIMIT,
  OUTCOME_REJECTED,
  OUTCOME_RETURNED,
  PROGRAM_FUNCTIONS,
  standaloneProgram,
  wrapProgram,
} from './bootstrap.js';
import type { BatchMode, CallOptions, CallOutcome, Program, ProgramSource } from './program.js';

/**
 * `call(name, argsJson, mode)` inside the isolate (see the bootstrap); `name === null`
 * lists the defined functions, and mode `calls` runs independent calls, one outcome line each.
 */
type CallFn = (name: string | null, argsJson: string, mode?: CrossingMode) => string;
type CrossingMode = BatchMode | 'calls';
type InstallFn = (factory: unknown, limits: unknown) => CallFn;

/** What the bootstrap holds every result to (see `install` in the bootstrap). */
export interface ResultLimits {
  readonly jsonDepth: number;
  readonly stringChars: number;
  /** Longest result, in characters of JSON: a guard; exact byte limits are the host's. */
  readonly resultChars: number;
}

interface Live {
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

export interface SandboxedProgramSpec {
  readonly source: ProgramSource;
  readonly hash: string;
  readonly memoryMb: number;
  /** Limit for running the program's top level once at load. */
  readonly cpuMs: number;
  /** Most isolates the program may run on at once (at least 1). */
  readonly isolates: number;
  readonly resultLimits: ResultLimits;
}

/** A call waiting for an isolate. */
interface Pending {
  readonly fn: ProgramFunction | null;
  readonly argsJson: string;
  readonly cpuMs: number;
  readonly mode: BatchMode | undefined;
  /** Whether the call must cross alone (it was in a crossing that failed as a whole). */
  readonly alone: boolean;
  readonly resolve: (outcome: CallOutcome) => void;
  readonly reject: (error: unknown) => void;
}

/** One isolate of a program's pool; it runs at most one crossing at a time. */
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

/** Most queued calls that share one crossing into an isolate. */
const MAX_CALLS_PER_CROSSING = 64;

/**
 * Share of its memory limit an isolate may hold after a crossing. Calls
 * should leave nothing behind, but a program can keep memory past a call
 * despite the frozen globals (private fields stamped onto a built-in), and
 * the next call, maybe another tenant's, would run out of memory for it. An
 * isolate holding more than this after a crossing is replaced before its
 * next one, so every call has at least this share of the limit to itself.
 * What is held includes the garbage of the last call not yet collected: a
 * call that alone allocates more than this share also gets its isolate
 * replaced, which costs a restart, not a failure.
 */
const RETAINED_HEAP_SHARE = 0.5;

const BYTES_PER_MB = 1024 * 1024;

/**
 * One program on a small pool of isolates (up to `spec.isolates`, started
 * lazily: a new isolate is started only when every existing one is busy).
 * Calls beyond the pool wait, first come first served, for a free isolate,
 * which then takes every waiting call (up to {@link MAX_CALLS_PER_CROSSING})
 * in one crossing: a crossing costs a round trip through the event loop, the
 * calls themselves microseconds, so under load this is what keeps the pool
 * from being the queue. Each call of a crossing still runs on a fresh scope
 * and gets its own outcome. A crossing is bounded by the smallest CPU limit
 * of its calls; if it fails as a whole (out of time or memory), its calls
 * run again, each alone under its own limits, so the one at fault gets the
 * error it would have got alone and the others their results (calls are
 * deterministic and leave nothing behind, so running one again is safe).
 * Each isolate runs one crossing at a time, so a call alone that exhausts
 * the memory limit is the only one in flight on its isolate: only that
 * isolate is disposed and restarted, on the next crossing given to it. The
 * call alone is charged with the failure only if it also exhausts a fresh
 * isolate: one that had served other crossings may have been holding memory
 * they left behind, so the call first runs once more on a fresh one.
 * After every crossing, an isolate holding more than
 * {@link RETAINED_HEAP_SHARE} of the limit is disposed (and restarted the
 * same way), so what one call keeps is not charged to the next.
 */
export class SandboxedProgram implements Program {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
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
    for (const call of this.queue.splice(0)) call.reject(unavailable);
  }

  private invoke(
    fn: ProgramFunction | null,
    args: JsonValue | readonly JsonValue[],
    cpuMs: number,
    mode?: BatchMode,
  ): Promise<CallOutcome> {
    if (this.disposed) {
      return Promise.reject(new UnavailableError('the program runtime is disposed'));
    }
    const argsJson = JSON.stringify(args);
    return new Promise((resolve, reject) => {
      this.queue.push({ fn, argsJson, cpuMs, mode, alone: false, resolve, reject });
      this.pump();
    });
  }

  /** Hands waiting calls to free isolates (starting new ones up to the pool size). */
  private pump(): void {
    while (this.queue.length > 0 && !this.disposed) {
      const slot = this.freeSlot();
      if (slot === undefined) return;
      slot.busy = true;
      void this.cross(slot, this.takeCalls());
    }
  }

  /** A free slot: one with a live isolate, else a blown one, else a new one, else none. */
  private freeSlot(): Slot | undefined {
    let free: Slot | undefined;
    for (const slot of this.slots) {
      if (slot.busy) continue;
      if (slot.live !== undefined) return slot;
      free ??= slot;
    }
    if (free === undefined && this.slots.length < this.spec.isolates) {
      free = { live: undefined, busy: false, blown: false };
      this.slots.push(free);
    }
    return free;
  }

  /** The next crossing's calls: the first waiting call, with the plain calls behind it. */
  private takeCalls(): Pending[] {
    const first = this.queue.shift()!;
    const calls = [first];
    if (!shareable(first)) return calls;
    while (calls.length < MAX_CALLS_PER_CROSSING) {
      const next = this.queue[0];
      if (next === undefined || !shareable(next)) break;
      calls.push(this.queue.shift()!);
    }
    return calls;
  }

  /** Runs one crossing, frees the slot, then settles its calls (so their callers find it free). */
  private async cross(slot: Slot, calls: readonly Pending[]): Promise<void> {
    let settle: () => void;
    if (calls.length === 1) {
      const [call] = calls as [Pending];
      settle = await this.run(slot, call.fn, call.argsJson, call.cpuMs, call.mode).then(
        (outcome) => () => call.resolve(outcome),
        (error: unknown) => () => call.reject(error),
      );
    } else {
      settle = await this.runShared(slot, calls);
    }
    slot.busy = false;
    settle();
    this.pump();
  }

  /**
   * Many independent calls in one crossing; what settles them. If the
   * crossing fails as a whole, its calls are queued again, each to run alone.
   */
  private async runShared(slot: Slot, calls: readonly Pending[]): Promise<() => void> {
    const argsJson = `[${calls.map((call) => `[${JSON.stringify(call.fn)},${call.argsJson}]`).join(',')}]`;
    const cpuMs = Math.min(...calls.map((call) => call.cpuMs));
    let raw: string | CallOutcome | undefined;
    try {
      const live = await this.ensureLive(slot);
      raw = await this.apply(slot, live, null, argsJson, cpuMs, 'calls', 'calls');
    } catch (error) {
      if (this.disposed) return () => calls.forEach((call) => call.reject(error));
    }
    if (typeof raw !== 'string') {
      // Out of time or memory as a whole: find the call at fault by running each alone.
      this.queue.unshift(...calls.map((call) => ({ ...call, alone: true })));
      return () => undefined;
    }
    const lines = raw.split('\n');
    return () =>
      calls.forEach((call, i) => {
        try {
          call.resolve(decode(lines[i] ?? ''));
        } catch (error) {
          call.reject(error);
        }
      });
  }

  private async run(
    slot: Slot,
    fn: ProgramFunction | null,
    argsJson: string,
    cpuMs: number,
    mode: BatchMode | undefined,
  ): Promise<CallOutcome> {
    const label = fn ?? 'top-level code';
    const live = await this.ensureLive(slot);
    const used = live.used;
    try {
      return outcomeOf(await this.apply(slot, live, fn, argsJson, cpuMs, mode, label));
    } catch (error) {
      // Out of memory (`blown`) where earlier crossings may have left memory
      // behind: it is this call's fault only if a fresh isolate runs out too.
      if (!used || !slot.blown) throw error;
    }
    const fresh = await this.ensureLive(slot);
    return outcomeOf(await this.apply(slot, fresh, fn, argsJson, cpuMs, mode, label));
  }

  /**
   * One crossing into `live`: the bootstrap's reply, or the failure as the
   * caller should see it (a limit, the runtime disposed, or a `failed` outcome).
   */
  private async apply(
    slot: Slot,
    live: Live,
    fn: ProgramFunction | null,
    argsJson: string,
    cpuMs: number,
    mode: CrossingMode | undefined,
    label: string,
  ): Promise<string | CallOutcome> {
    live.used = true;
    try {
      return await live.call.apply(undefined, [fn, argsJson, mode], { timeout: cpuMs });
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
    } finally {
      this.checkHeap(slot, live);
    }
  }

  /** Disposes `live` if it holds more than calls may leave behind (see {@link RETAINED_HEAP_SHARE}). */
  private checkHeap(slot: Slot, live: Live): void {
    if (this.disposed || live.isolate.isDisposed) return;
    // The sync read takes the idle isolate's lock for microseconds; the async
    // one would cost another trip through the isolate's task queue.
    const heap = live.isolate.getHeapStatisticsSync();
    const held = heap.used_heap_size + heap.externally_allocated_size;
    if (held <= RETAINED_HEAP_SHARE * this.spec.memoryMb * BYTES_PER_MB) return;
    live.isolate.dispose();
    slot.live = undefined; // restarted by the next call given this slot
    this.counters.recycles++;
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

/** Whether a waiting call may share a crossing with others: a plain call not already failed in one. */
function shareable(call: Pending): boolean {
  return call.fn !== null && call.mode === undefined && !call.alone;
}

/** A reply of the bootstrap decoded, or the outcome `apply` already made of a failure. */
function outcomeOf(raw: string | CallOutcome): CallOutcome {
  return typeof raw === 'string' ? decode(raw) : raw;
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
    case OUTCOME_LIMIT: {
      const { message } = JSON.parse(body) as { message: string };
      throw new ProgramLimitError(clip(message));
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
