import { silentLogger, ValidationError } from '@tenantfold/core';
import { describe, expect, it } from 'vitest';
import { resolveBackendOptions } from '../src/backend/index.js';
import { JETSTREAM_BACKEND_DEFAULTS } from '../src/index.js';

describe('resolveBackendOptions', () => {
  it('fills in the defaults and freezes the result', () => {
    const resolved = resolveBackendOptions({ servers: 'nats://127.0.0.1:4222' });
    expect(resolved).toEqual({
      ...JETSTREAM_BACKEND_DEFAULTS,
      connection: { servers: ['nats://127.0.0.1:4222'] },
      logger: silentLogger,
    });
    expect(JETSTREAM_BACKEND_DEFAULTS).toMatchObject({
      streamName: 'EVENTS',
      subjectPrefix: '',
      snapshotBucket: 'SNAPSHOTS',
      checkpointBucket: 'CHECKPOINTS',
      deadLetterStream: 'DEAD_LETTERS',
      replicas: 1,
      duplicateWindowMs: 120_000,
    });
    expect(Object.isFrozen(resolved)).toBe(true);
  });

  it.each([
    [{}, 'servers'],
    [{ servers: [] }, 'servers'],
    [{ servers: 'x', streamName: 'EV.ENTS' }, 'streamName'],
    [{ servers: 'x', subjectPrefix: 'a.b' }, 'subjectPrefix'],
    [{ servers: 'x', subjectPrefix: '.a.' }, 'subjectPrefix'],
    [{ servers: 'x', replicas: 0 }, 'replicas'],
    [{ servers: 'x', replicas: 1.5 }, 'replicas'],
    [{ servers: 'x', duplicateWindowMs: -1 }, 'duplicateWindowMs'],
    [{ servers: 'x', requestTimeoutMs: 0 }, 'requestTimeoutMs'],
    [{ servers: 'x', deadLetterStream: 'EVENTS' }, 'deadLetterStream'],
    [{ servers: 'x', checkpointBucket: 'SNAPSHOTS' }, 'checkpointBucket'],
  ])('refuses %j, naming %s', (options, field) => {
    let error: unknown;
    try {
      resolveBackendOptions(options);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ field });
  });

  it('accepts a dotted subject prefix and a list of servers', () => {
    const resolved = resolveBackendOptions({
      servers: ['nats://a:4222', 'nats://b:4222'],
      subjectPrefix: 'prod.eu-1.',
      replicas: 3,
    });
    expect(resolved).toMatchObject({
      subjectPrefix: 'prod.eu-1.',
      replicas: 3,
      connection: { servers: ['nats://a:4222', 'nats://b:4222'] },
    });
  });
});
