import { JetStreamApiError } from '@nats-io/jetstream';
import { ConnectionError, TimeoutError } from '@nats-io/transport-node';
import {
  DomainError,
  NotFoundError,
  StorageError,
  StreamError,
  UnavailableError,
  ValidationError,
  VersionConflictError,
} from '@tenantfold/core';
import { describe, expect, it, vi } from 'vitest';
import type { CircuitBreakerOptions, CircuitStateChange } from '../src/breaker/index.js';
import { CircuitBreaker, CircuitOpenError, isTransportFailure } from '../src/breaker/index.js';

/** A breaker on a hand-driven clock, recording its state changes. */
function breakerOf(options: CircuitBreakerOptions = {}) {
  const clock = { ms: 1_000_000 };
  const breaker = new CircuitBreaker({
    name: 'kv',
    failureThreshold: 3,
    cooldownMs: 1_000,
    now: () => clock.ms,
    ...options,
  });
  const changes: CircuitStateChange[] = [];
  breaker.onStateChange((change) => changes.push(change));
  const transitions = () => changes.map((c) => `${c.from}>${c.to}`);
  return { breaker, clock, changes, transitions };
}

const timeout = () => new TimeoutError();
const fail = (error: Error) => () => Promise.reject(error);
const ok =
  <T>(value: T) =>
  () =>
    Promise.resolve(value);

async function failTimes(breaker: CircuitBreaker, n: number, error: Error = timeout()) {
  for (let i = 0; i < n; i++) await expect(breaker.execute(fail(error))).rejects.toBe(error);
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('CircuitBreaker: closed', () => {
  it('passes results and errors through and stays closed on successes', async () => {
    const { breaker, changes } = breakerOf();
    expect(breaker.state).toBe('CLOSED');
    await expect(breaker.execute(ok(42))).resolves.toBe(42);
    await expect(breaker.execute(() => 'sync')).resolves.toBe('sync');
    const error = new StorageError('disk');
    await expect(breaker.execute(fail(error))).rejects.toBe(error);
    expect(breaker.state).toBe('CLOSED');
    expect(changes).toEqual([]);
  });

  it('opens after failureThreshold consecutive failures, reporting the cause', async () => {
    const { breaker, changes, transitions, clock } = breakerOf();
    await failTimes(breaker, 2);
    expect(breaker.state).toBe('CLOSED');
    const last = timeout();
    await failTimes(breaker, 1, last);
    expect(breaker.state).toBe('OPEN');
    expect(transitions()).toEqual(['CLOSED>OPEN']);
    expect(changes[0]).toMatchObject({ name: 'kv', at: clock.ms, cause: last });
  });

  it('a success resets the consecutive count', async () => {
    const { breaker } = breakerOf();
    await failTimes(breaker, 2);
    await breaker.execute(ok(1));
    await failTimes(breaker, 2);
    expect(breaker.state).toBe('CLOSED');
  });

  it('counts a synchronous throw like a rejection', async () => {
    const { breaker } = breakerOf({ failureThreshold: 1 });
    const error = new ConnectionError('refused');
    await expect(
      breaker.execute(() => {
        throw error;
      }),
    ).rejects.toBe(error);
    expect(breaker.state).toBe('OPEN');
  });

  it('answers of a healthy backend (conflict, validation, domain, not found, JetStream 4xx) are not failures', async () => {
    const { breaker } = breakerOf({ failureThreshold: 1 });
    const answers = [
      new VersionConflictError(1, 2),
      new ValidationError('bad'),
      new DomainError('insufficient funds'),
      new NotFoundError('no such thing'),
      new JetStreamApiError({ code: 400, err_code: 10071, description: 'wrong last sequence: 3' }),
    ];
    for (const answer of answers) {
      await expect(breaker.execute(fail(answer))).rejects.toBe(answer);
    }
    expect(breaker.state).toBe('CLOSED');
  });

  it('opens on the failure rate over the window once minimumCalls is reached', async () => {
    const { breaker, clock } = breakerOf({
      failureThreshold: 100,
      failureRateThreshold: 0.5,
      minimumCalls: 10,
      windowMs: 10_000,
    });
    // 4 failures in 9 calls: below minimumCalls, and alternating so never consecutive.
    for (let i = 0; i < 9; i++) {
      if (i % 2 === 1) await failTimes(breaker, 1);
      else await breaker.execute(ok(i));
      clock.ms += 100;
    }
    expect(breaker.state).toBe('CLOSED');
    await failTimes(breaker, 1); // 5 of 10
    expect(breaker.state).toBe('OPEN');
  });

  it('forgets failures that slid out of the window', async () => {
    const { breaker, clock } = breakerOf({
      failureThreshold: 100,
      failureRateThreshold: 0.5,
      minimumCalls: 4,
      windowMs: 1_000,
    });
    await failTimes(breaker, 3);
    clock.ms += 2_000; // the three failures are now outside the window
    await breaker.execute(ok(1));
    await breaker.execute(ok(2));
    await breaker.execute(ok(3));
    await failTimes(breaker, 1); // 1 of 4 in the window
    expect(breaker.state).toBe('CLOSED');
    await failTimes(breaker, 1); // 2 of 5 ... still below 0.5
    expect(breaker.state).toBe('CLOSED');
    await failTimes(breaker, 1); // 3 of 6 = 0.5
    expect(breaker.state).toBe('OPEN');
  });
});

describe('CircuitBreaker: open', () => {
  it('fails fast with UNAVAILABLE without calling the function', async () => {
    const { breaker, clock } = breakerOf();
    const last = timeout();
    await failTimes(breaker, 3, last);
    clock.ms += 250;
    const fn = vi.fn(ok('never'));
    const error = await breaker.execute(fn).catch((e: unknown) => e);
    expect(fn).not.toHaveBeenCalled();
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error).toMatchObject({
      code: 'UNAVAILABLE',
      retryable: true,
      circuit: 'kv',
      retryAfterMs: 750,
      cause: last,
    });
    expect((error as Error).message).toBe("circuit 'kv' is open; retry in 750 ms");
  });

  it('moves to HALF_OPEN after the cool-down, observed by reading state', async () => {
    const { breaker, clock, transitions } = breakerOf();
    await failTimes(breaker, 3);
    clock.ms += 999;
    expect(breaker.state).toBe('OPEN');
    clock.ms += 1;
    expect(breaker.state).toBe('HALF_OPEN');
    expect(transitions()).toEqual(['CLOSED>OPEN', 'OPEN>HALF_OPEN']);
  });

  it('outcomes of calls started before the circuit opened are ignored', async () => {
    const { breaker, transitions } = breakerOf();
    const slow = deferred<string>();
    const pending = breaker.execute(() => slow.promise);
    await failTimes(breaker, 3);
    slow.resolve('late');
    await expect(pending).resolves.toBe('late');
    expect(breaker.state).toBe('OPEN');
    expect(transitions()).toEqual(['CLOSED>OPEN']);
  });
});

describe('CircuitBreaker: half-open', () => {
  async function halfOpen(options: CircuitBreakerOptions = {}) {
    const setup = breakerOf(options);
    await failTimes(setup.breaker, 3);
    setup.clock.ms += 1_000;
    return setup;
  }

  it('lets one trial through at a time and closes on its success', async () => {
    const { breaker, transitions } = await halfOpen();
    const trial = deferred<string>();
    const trialFn = vi.fn(() => trial.promise);
    const running = breaker.execute(trialFn);
    expect(trialFn).toHaveBeenCalledTimes(1);
    expect(breaker.state).toBe('HALF_OPEN');

    const second = vi.fn(ok('second'));
    const refused = await breaker.execute(second).catch((e: unknown) => e);
    expect(second).not.toHaveBeenCalled();
    expect(refused).toBeInstanceOf(CircuitOpenError);
    expect(refused).toMatchObject({ code: 'UNAVAILABLE', retryAfterMs: undefined });

    trial.resolve('ok');
    await expect(running).resolves.toBe('ok');
    expect(breaker.state).toBe('CLOSED');
    expect(transitions()).toEqual(['CLOSED>OPEN', 'OPEN>HALF_OPEN', 'HALF_OPEN>CLOSED']);
    await expect(breaker.execute(second)).resolves.toBe('second');
  });

  it('reopens on a failed trial, with a fresh cool-down', async () => {
    const { breaker, clock, transitions } = await halfOpen();
    await failTimes(breaker, 1);
    expect(breaker.state).toBe('OPEN');
    expect(transitions()).toEqual(['CLOSED>OPEN', 'OPEN>HALF_OPEN', 'HALF_OPEN>OPEN']);
    await expect(breaker.execute(ok(1))).rejects.toMatchObject({ retryAfterMs: 1_000 });
    clock.ms += 1_000;
    await expect(breaker.execute(ok(1))).resolves.toBe(1);
    expect(breaker.state).toBe('CLOSED');
  });

  it('a trial answered with a version conflict closes the circuit (the backend is up)', async () => {
    const { breaker } = await halfOpen();
    const conflict = new VersionConflictError(3, 4);
    await expect(breaker.execute(fail(conflict))).rejects.toBe(conflict);
    expect(breaker.state).toBe('CLOSED');
  });

  it('after closing, counting starts from zero again', async () => {
    const { breaker } = await halfOpen();
    await breaker.execute(ok(1));
    await failTimes(breaker, 2);
    expect(breaker.state).toBe('CLOSED');
    await failTimes(breaker, 1);
    expect(breaker.state).toBe('OPEN');
  });
});

describe('CircuitBreaker: listeners and options', () => {
  it('ignores listener errors and supports unsubscribing', async () => {
    const { breaker, clock } = breakerOf({ failureThreshold: 1 });
    const seen: string[] = [];
    breaker.onStateChange(() => {
      throw new Error('listener bug');
    });
    const off = breaker.onStateChange((c) => seen.push(c.to));
    await failTimes(breaker, 1);
    off();
    clock.ms += 1_000;
    expect(breaker.state).toBe('HALF_OPEN');
    expect(seen).toEqual(['OPEN']);
  });

  it('a throwing classifier counts as a failure and never wedges a trial', async () => {
    const { breaker, clock } = breakerOf({
      failureThreshold: 1,
      isFailure: () => {
        throw new Error('classifier bug');
      },
    });
    await failTimes(breaker, 1, new Error('x'));
    expect(breaker.state).toBe('OPEN');
    clock.ms += 1_000;
    await failTimes(breaker, 1, new Error('y'));
    expect(breaker.state).toBe('OPEN');
  });

  it('rejects bad options with the option name', () => {
    expect(() => new CircuitBreaker({ failureThreshold: 0 })).toThrow(ValidationError);
    expect(() => new CircuitBreaker({ failureThreshold: 1.5 })).toThrow(/failureThreshold/);
    expect(() => new CircuitBreaker({ failureRateThreshold: 1.5 })).toThrow(/failureRateThreshold/);
    expect(() => new CircuitBreaker({ cooldownMs: -1 })).toThrow(/cooldownMs/);
    expect(() => new CircuitBreaker({ windowMs: Number.NaN })).toThrow(/windowMs/);
  });
});

describe('isTransportFailure', () => {
  const system = (code: string) => Object.assign(new Error(code), { code });
  it.each([
    ['nats TimeoutError', new TimeoutError(), true],
    ['nats ConnectionError', new ConnectionError('refused'), true],
    ['StorageError', new StorageError('disk'), true],
    ['StreamError', new StreamError('stream'), true],
    ['UnavailableError', new UnavailableError('draining'), true],
    [
      'JetStream API 503',
      new JetStreamApiError({ code: 503, err_code: 10008, description: 'unavailable' }),
      true,
    ],
    ['ECONNREFUSED', system('ECONNREFUSED'), true],
    [
      'an unknown error caused by a timeout',
      new Error('wrapped', { cause: new TimeoutError() }),
      true,
    ],
    ['VersionConflictError', new VersionConflictError(1, 2), false],
    [
      'VersionConflictError caused by a JetStream error',
      new VersionConflictError(1, 2, { cause: new TimeoutError() }),
      false,
    ],
    ['ValidationError', new ValidationError('bad'), false],
    ['DomainError', new DomainError('no'), false],
    [
      'JetStream API 10071',
      new JetStreamApiError({ code: 400, err_code: 10071, description: 'wrong last sequence' }),
      false,
    ],
    ['ENOENT', system('ENOENT'), false],
    ['TypeError (a bug)', new TypeError('x is undefined'), false],
    ['a string', 'timeout', false],
  ])('%s → %s', (_name, error, expected) => {
    expect(isTransportFailure(error)).toBe(expected);
  });
});
