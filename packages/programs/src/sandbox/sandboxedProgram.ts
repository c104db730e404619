import type { JsonValue } from '@tenantfold/core';
import { ProgramLimitError, UnavailableError, ValidationError } from '@tenantfold/core';
import type { ProgramFunction } from './bootstrap.js';
import { PROGRAM_FUNCTIONS } from './bootstrap.js';
import type { CrossingMode, IsolateSpec, Live, SandboxCounters } from './isolate.js';
import { startIsolate } from './isolate.js';
import { clip, decode, outcomeOf } from './outcomes.js';
import type { BatchMode, CallOptions, CallOutcome, Program } from './program.js';

export interface SandboxedProgramSpec extends IsolateSpec {
  readonly hash: string;
  /** Most isolates the program may run on at once (at least 1). */
  readonly isolates: number;
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

/** isolated-vm's message for a call stopped by its `timeout` (the library has no error codes). */
const TIMED_OUT = 'Script execution timed out.';

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

/** Whether a waiting call may share a crossing with others: a plain call not already failed in one. */
function shareable(call: Pending): boolean {
  return call.fn !== null && call.mode === undefined && !call.alone;
}
