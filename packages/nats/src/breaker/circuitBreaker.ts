import { UnavailableError, ValidationError } from '@tenantfold/core';
import { isTransportFailure } from './failures.js';

/**
 * - `CLOSED`: calls pass; failures are counted.
 * - `OPEN`: calls fail fast with `CircuitOpenError` until the cool-down ends.
 * - `HALF_OPEN`: one trial call at a time passes; its success closes the
 *   circuit, its failure opens it again.
 */
export type CircuitState = 'CLOSED' | 'OPEN' | 'HALF_OPEN';

export interface CircuitStateChange {
  readonly name: string;
  readonly from: CircuitState;
  readonly to: CircuitState;
  /** Clock time of the change, in ms. */
  readonly at: number;
  /** The failure that opened the circuit (only for `to: 'OPEN'`). */
  readonly cause?: unknown;
}

export type CircuitStateListener = (change: CircuitStateChange) => void;

export interface CircuitBreakerOptions {
  /** Name in errors, state changes and metrics. @default 'circuit' */
  readonly name?: string;
  /** Consecutive failures that open the circuit. @default 5 */
  readonly failureThreshold?: number;
  /**
   * Share of failed calls (0 < x ≤ 1) in the sliding window that opens the
   * circuit, once the window holds `minimumCalls` calls. @default 0.5
   */
  readonly failureRateThreshold?: number;
  /** Calls the window must hold before the failure rate is judged. @default 20 */
  readonly minimumCalls?: number;
  /** Length of the sliding window of the failure rate, in ms. @default 10_000 */
  readonly windowMs?: number;
  /** Time the circuit stays open before a trial call may pass, in ms. @default 5_000 */
  readonly cooldownMs?: number;
  /** Which errors count as failures; others are answers (successes). @default isTransportFailure */
  readonly isFailure?: (error: unknown) => boolean;
  /** Clock, in ms. @default Date.now */
  readonly now?: () => number;
}

/** A call refused by an open (or busy half-open) circuit: code `UNAVAILABLE`. */
export class CircuitOpenError extends UnavailableError {
  constructor(
    readonly circuit: string,
    /** ms until a trial call may pass; undefined while a trial call is running. */
    readonly retryAfterMs: number | undefined,
    options?: ErrorOptions,
  ) {
    super(
      retryAfterMs === undefined
        ? `circuit '${circuit}' is half-open and its trial call is still running`
        : `circuit '${circuit}' is open; retry in ${retryAfterMs} ms`,
      options,
    );
  }
  override toJSON() {
    return { ...super.toJSON(), circuit: this.circuit, retryAfterMs: this.retryAfterMs };
  }
}

const BUCKETS = 10;

/** Failure counts over the last `windowMs`, in `BUCKETS` time slices (bounded memory). */
class SlidingWindow {
  private readonly calls = new Array<number>(BUCKETS).fill(0);
  private readonly failures = new Array<number>(BUCKETS).fill(0);
  private readonly slices = new Array<number>(BUCKETS).fill(-1);
  private readonly sliceMs: number;

  constructor(windowMs: number) {
    this.sliceMs = windowMs / BUCKETS;
  }

  record(now: number, failed: boolean): void {
    const slice = Math.floor(now / this.sliceMs);
    const i = slice % BUCKETS;
    if (this.slices[i] !== slice) {
      this.slices[i] = slice;
      this.calls[i] = 0;
      this.failures[i] = 0;
    }
    this.calls[i] = (this.calls[i] ?? 0) + 1;
    if (failed) this.failures[i] = (this.failures[i] ?? 0) + 1;
  }

  totals(now: number): { calls: number; failures: number } {
    const current = Math.floor(now / this.sliceMs);
    let calls = 0;
    let failures = 0;
    for (let i = 0; i < BUCKETS; i++) {
      const slice = this.slices[i] ?? -1;
      if (slice > current - BUCKETS && slice <= current) {
        calls += this.calls[i] ?? 0;
        failures += this.failures[i] ?? 0;
      }
    }
    return { calls, failures };
  }

  clear(): void {
    this.slices.fill(-1);
  }
}

interface Permit {
  readonly generation: number;
  readonly trial: boolean;
}

function positive(value: number, field: string, integer: boolean): number {
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new ValidationError(
      `invalid ${field} ${value}: expected a positive ${integer ? 'integer' : 'number'}`,
      field,
    );
  }
  return value;
}

/**
 * A circuit breaker for calls to a backend (NATS, KV). Opens after
 * `failureThreshold` consecutive failures or a failure rate over the window;
 * while open, calls fail fast with `CircuitOpenError` (an `UnavailableError`)
 * without running. After `cooldownMs` the circuit is half-open: one trial call
 * at a time passes. Only transport failures count (see `isTransportFailure`):
 * a version conflict or a validation error is an answer from a healthy backend.
 *
 * No timers: the OPEN → HALF_OPEN change happens when the cool-down has passed
 * and the breaker is next used or its `state` is read (a /ready probe reading
 * `state` is enough to let the next call be the trial).
 */
export class CircuitBreaker {
  readonly name: string;
  private readonly failureThreshold: number;
  private readonly failureRateThreshold: number;
  private readonly minimumCalls: number;
  private readonly cooldownMs: number;
  private readonly isFailure: (error: unknown) => boolean;
  private readonly now: () => number;
  private readonly window: SlidingWindow;
  private readonly listeners = new Set<CircuitStateListener>();

  private current: CircuitState = 'CLOSED';
  /** Bumped on every transition: outcomes of calls from an older generation are ignored. */
  private generation = 0;
  private consecutiveFailures = 0;
  private openedAt = 0;
  private trialRunning = false;
  private lastFailure: unknown;

  constructor(options: CircuitBreakerOptions = {}) {
    this.name = options.name ?? 'circuit';
    this.failureThreshold = positive(options.failureThreshold ?? 5, 'failureThreshold', true);
    this.failureRateThreshold = positive(
      options.failureRateThreshold ?? 0.5,
      'failureRateThreshold',
      false,
    );
    if (this.failureRateThreshold > 1) {
      throw new ValidationError(
        `invalid failureRateThreshold ${this.failureRateThreshold}: expected at most 1`,
        'failureRateThreshold',
      );
    }
    this.minimumCalls = positive(options.minimumCalls ?? 20, 'minimumCalls', true);
    this.cooldownMs = positive(options.cooldownMs ?? 5_000, 'cooldownMs', false);
    this.window = new SlidingWindow(positive(options.windowMs ?? 10_000, 'windowMs', false));
    this.isFailure = options.isFailure ?? isTransportFailure;
    this.now = options.now ?? Date.now;
  }

  /** The current state (moves OPEN → HALF_OPEN when the cool-down has passed). */
  get state(): CircuitState {
    this.refresh();
    return this.current;
  }

  /**
   * Calls `listener` on every state change (synchronously, in order). Errors
   * thrown by a listener are ignored.
   * @returns a function that removes the listener
   */
  onStateChange(listener: CircuitStateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Runs `fn` through the breaker. Rejects with `CircuitOpenError` without
   * calling `fn` while open (or while a half-open trial is running); otherwise
   * returns or throws what `fn` does, recording the outcome.
   */
  async execute<T>(fn: () => Promise<T> | T): Promise<T> {
    const permit = this.acquire();
    let result: T;
    try {
      result = await fn();
    } catch (error) {
      this.settle(permit, this.classify(error), error);
      throw error;
    }
    this.settle(permit, false, undefined);
    return result;
  }

  private classify(error: unknown): boolean {
    try {
      return this.isFailure(error);
    } catch {
      return true; // a broken classifier must not leave a trial call unsettled
    }
  }

  private acquire(): Permit {
    this.refresh();
    switch (this.current) {
      case 'CLOSED':
        return { generation: this.generation, trial: false };
      case 'OPEN':
        throw new CircuitOpenError(
          this.name,
          Math.max(0, Math.ceil(this.openedAt + this.cooldownMs - this.now())),
          { cause: this.lastFailure },
        );
      case 'HALF_OPEN':
        if (this.trialRunning) {
          throw new CircuitOpenError(this.name, undefined, { cause: this.lastFailure });
        }
        this.trialRunning = true;
        return { generation: this.generation, trial: true };
    }
  }

  private settle(permit: Permit, failed: boolean, error: unknown): void {
    if (permit.generation !== this.generation) return; // started before the last transition
    if (permit.trial) {
      this.trialRunning = false;
      if (failed) this.open(error);
      else this.transition('CLOSED');
      return;
    }
    const now = this.now();
    this.window.record(now, failed);
    if (!failed) {
      this.consecutiveFailures = 0;
      return;
    }
    this.consecutiveFailures++;
    const { calls, failures } = this.window.totals(now);
    if (
      this.consecutiveFailures >= this.failureThreshold ||
      (calls >= this.minimumCalls && failures / calls >= this.failureRateThreshold)
    ) {
      this.open(error);
    }
  }

  private refresh(): void {
    if (this.current === 'OPEN' && this.now() >= this.openedAt + this.cooldownMs) {
      this.transition('HALF_OPEN');
    }
  }

  private open(cause: unknown): void {
    this.lastFailure = cause;
    this.openedAt = this.now();
    this.transition('OPEN', cause);
  }

  private transition(to: CircuitState, cause?: unknown): void {
    const from = this.current;
    this.current = to;
    this.generation++;
    this.consecutiveFailures = 0;
    this.trialRunning = false;
    this.window.clear();
    if (to === 'CLOSED') this.lastFailure = undefined;
    const change: CircuitStateChange = {
      name: this.name,
      from,
      to,
      at: this.now(),
      ...(to === 'OPEN' ? { cause } : {}),
    };
    for (const listener of [...this.listeners]) {
      try {
        listener(change);
      } catch {
        // a metrics or logging listener must not break the breaker
      }
    }
  }
}
