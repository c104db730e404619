import { StreamError, StreamKey } from '@tenantfold/core';
import { describe, expect, it } from 'vitest';
import { CommitSubjects } from '../src/index.js';

describe('CommitSubjects', () => {
  const subjects = new CommitSubjects('test.');

  it('maps stream keys to subjects and back, the default tenant as =default', () => {
    const keys = [StreamKey.of('', 'counter', 'c-1'), StreamKey.of('acme', 'order', 'O_9')];
    expect(subjects.of(keys[0]!)).toBe('test.tenant.=default.aggregate.counter.c-1');
    for (const key of keys) expect(subjects.parse(subjects.of(key))).toEqual(key);
    expect(subjects.all).toBe('test.tenant.*.aggregate.*.*');
    expect(subjects.filter(keys[1]!.tenant)).toBe('test.tenant.acme.aggregate.*.*');
    expect(subjects.filter(keys[0]!.tenant, keys[1]!.type)).toBe(
      'test.tenant.=default.aggregate.order.*',
    );
  });

  it('refuses subjects that are not aggregate streams under its prefix', () => {
    for (const subject of [
      'tenant.acme.aggregate.counter.c-1',
      'test.tenant.acme.aggregate.counter',
      'test.tenant.acme.aggregate.counter.c-1.extra',
      'test.tenant.acme.stream.counter.c-1',
      'test.tenant.a!b.aggregate.counter.c-1',
      'test.tenant.acme.aggregate.Counter.c-1',
    ]) {
      expect(() => subjects.parse(subject), subject).toThrow(StreamError);
    }
  });
});
