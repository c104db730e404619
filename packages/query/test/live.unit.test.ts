import { describe, expect, it } from 'vitest';
import { UnavailableError, ValidationError, statusFor } from '@tenantfold/core';
import { ReadModel } from '../src/index.js';
import type { FilterTarget } from '../src/language.js';
import { parseFilter } from '../src/language.js';
import {
  LiveSet,
  SlowSubscriberError,
  SubscriberBuffer,
  SubscriptionLimits,
  TooManySubscriptionsError,
  classifyChange,
  decodeNotification,
  encodeNotification,
  notificationOf,
  stateSubject,
} from '../src/live.js';

const row = (version: number, balance: number): FilterTarget => ({
  id: 'acc-1',
  version,
  updated_at: '2026-11-23T10:00:00.000Z',
  state: { balance },
});

describe('classifyChange', () => {
  const filter = parseFilter('balance > 100');

  it('sees an account enter, update and leave the set', () => {
    expect(classifyChange(filter, undefined, row(1, 150))).toBe('entered');
    expect(classifyChange(filter, row(1, 50), row(2, 150))).toBe('entered');
    expect(classifyChange(filter, row(2, 150), row(3, 200))).toBe('updated');
    expect(classifyChange(filter, row(3, 200), row(4, 20))).toBe('left');
    expect(classifyChange(filter, row(3, 200), undefined)).toBe('left');
    expect(classifyChange(filter, row(4, 20), row(5, 30))).toBe('none');
    expect(classifyChange(filter, undefined, row(1, 30))).toBe('none');
  });

  it('uses row fields as the query does', () => {
    expect(classifyChange(parseFilter('version >= 3'), row(2, 0), row(3, 0))).toBe('entered');
  });
});

describe('SubscriberBuffer', () => {
  it('hands items to the consumer in order, waiting when empty, ending on close', async () => {
    const buffer = new SubscriberBuffer<number>(10);
    const received: number[] = [];
    const consumer = (async () => {
      for await (const item of buffer) received.push(item);
    })();
    buffer.push(1);
    await Promise.resolve();
    buffer.push(2);
    buffer.push(3);
    buffer.close();
    expect(buffer.push(4)).toBe(false);
    await consumer;
    expect(received).toEqual([1, 2, 3]);
  });

  it('cuts a slow subscriber with a clear, retryable error instead of growing', async () => {
    const buffer = new SubscriberBuffer<number>(3);
    expect([1, 2, 3].map((n) => buffer.push(n))).toEqual([true, true, true]);
    expect(buffer.push(4)).toBe(false);
    expect(buffer.ended).toBe(true);
    expect(buffer.size).toBe(0);
    const iterator = buffer[Symbol.asyncIterator]();
    const error = await iterator.next().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SlowSubscriberError);
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as Error).message).toMatch(/subscriber too slow: 3 changes were waiting/);
    expect(statusFor(error).grpc).toBe(14);
    expect((error as SlowSubscriberError).toJSON()).toMatchObject({
      code: 'UNAVAILABLE',
      capacity: 3,
    });
  });

  it('wakes a waiting consumer with the error when failed', async () => {
    const buffer = new SubscriberBuffer<number>(3);
    const next = buffer[Symbol.asyncIterator]().next();
    buffer.fail(new Error('node draining'));
    await expect(next).rejects.toThrow('node draining');
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new SubscriberBuffer(0)).toThrow(RangeError);
  });
});

describe('LiveSet', () => {
  it('turns notifications into entered / updated / left, without duplicates or what the initial set already holds', () => {
    const model = ReadModel.open({ path: ':memory:' });
    try {
      let position = 0;
      const put = (id: string, version: number, balance: number) =>
        model.apply([
          {
            tenant: 't',
            type: 'account',
            id,
            version,
            state: { balance },
            updated_at: '2026-11-23T10:00:00.000Z',
            position: ++position,
          },
        ])[0]!.after;
      const early = put('low', 1, 10);
      const rich = put('rich', 1, 500);
      const filter = parseFilter('balance > 100');
      const page = model.query('t', 'account', { filter: 'balance > 100' });
      const live = new LiveSet(filter, page.position);
      live.seed(page.rows);
      expect([...live.members()]).toEqual(['rich']);

      expect(live.next(early)).toBe('none'); // older than the initial query
      expect(live.next(rich)).toBe('none'); // already in the initial set
      const entered = put('acc-1', 1, 150);
      expect(live.next(entered)).toBe('entered');
      expect(live.next(entered)).toBe('none'); // delivered twice
      expect(live.next(put('acc-1', 2, 300))).toBe('updated');
      expect(live.next(put('acc-1', 3, 20))).toBe('left');
      expect(live.next(put('acc-1', 4, 30))).toBe('none');
      expect(live.next(put('low', 2, 101))).toBe('entered');
      expect([...live.members()].sort()).toEqual(['low', 'rich']);
      expect(Object.fromEntries(live.versions())).toEqual({ rich: 1, 'acc-1': 4, low: 2 });
    } finally {
      model.close();
    }
  });
});

describe('state notifications', () => {
  it('carry an applied change across the wire and back, on the aggregate subject', () => {
    const model = ReadModel.open({ path: ':memory:' });
    try {
      const base = {
        tenant: 't',
        type: 'account',
        id: 'acc-1',
        updated_at: '2026-11-23T10:00:00.000Z',
      };
      model.apply([{ ...base, version: 1, state: { balance: 1 }, position: 5 }]);
      const [applied] = model.apply([{ ...base, version: 2, state: { balance: 2 }, position: 9 }]);
      const notification = notificationOf(applied!);
      expect(notification).toEqual({
        ...base,
        version: 2,
        position: 9,
        previous_version: 1,
        state: { balance: 2 },
      });
      expect(decodeNotification(encodeNotification(notification))).toEqual(notification);
      expect(stateSubject('t', 'account', 'acc-1')).toBe('state.t.account.acc-1');
      expect(stateSubject('', 'account')).toBe('state.=default.account.*');
    } finally {
      model.close();
    }
  });

  it('refuses a message that is not a notification, naming the field', () => {
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value));
    const good = {
      tenant: 't',
      type: 'account',
      id: 'a',
      version: 1,
      position: 1,
      previous_version: 0,
      updated_at: 'x',
      state: {},
    };
    expect(() => decodeNotification(Buffer.from('{oops'))).toThrow(
      /notification is not valid JSON/,
    );
    expect(() => decodeNotification(encode({ ...good, version: 0 }))).toThrow(
      /version must be an integer >= 1, got 0/,
    );
    expect(() => decodeNotification(encode({ ...good, id: 'a.b' }))).toThrow(ValidationError);
    expect(() => decodeNotification(encode({ ...good, state: undefined }))).toThrow(/no state/);
    expect(() => stateSubject('t', 'account', 'a.>')).toThrow(ValidationError);
  });
});

describe('SubscriptionLimits', () => {
  it('caps open subscriptions per tenant and in total, and gives slots back once', () => {
    const limits = new SubscriptionLimits({ perTenant: 2, total: 3 });
    const a1 = limits.acquire('a');
    limits.acquire('a');
    expect(() => limits.acquire('a')).toThrow(/tenant 'a' already has 2 open subscriptions/);
    limits.acquire('b');
    const total = (() => {
      try {
        limits.acquire('c');
      } catch (error) {
        return error;
      }
    })();
    expect(total).toBeInstanceOf(TooManySubscriptionsError);
    expect(total).toMatchObject({ code: 'UNAVAILABLE', scope: 'total', limit: 3 });
    a1();
    a1();
    expect(limits.open('a')).toBe(1);
    expect(limits.open()).toBe(2);
    expect(() => limits.acquire('c')).not.toThrow();
    expect(() => new SubscriptionLimits({ perTenant: 0 })).toThrow(RangeError);
  });
});
