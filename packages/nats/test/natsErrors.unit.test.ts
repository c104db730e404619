import { JetStreamApiError } from '@nats-io/jetstream';
import { errors, RequestError } from '@nats-io/transport-node';
import { StorageError, StreamError, ValidationError, VersionConflictError } from '@tenantfold/core';
import { describe, expect, it } from 'vitest';
import { isWrongLastSequence, NatsApiCode, translateNatsError } from '../src/errors/index.js';

const apiError = (code: number, description: string) =>
  new JetStreamApiError({ code: 400, err_code: code, description });

describe('translateNatsError', () => {
  const append = { store: 'stream', operation: 'append to s', expectedPosition: 4 } as const;
  const kv = { store: 'storage', operation: 'save snapshot of k' } as const;

  it('turns a wrong last sequence on append into VersionConflictError', () => {
    const cause = apiError(NatsApiCode.WrongLastSequence, 'wrong last sequence: 9');
    const error = translateNatsError(cause, append);
    expect(error).toBeInstanceOf(VersionConflictError);
    expect(error).toMatchObject({ expected: 4, actual: 9, cause });
    expect(isWrongLastSequence(cause)).toBe(true);
    // without an expectation (a KV compare-and-set) it is a storage failure
    expect(translateNatsError(cause, kv)).toBeInstanceOf(StorageError);
  });

  it('maps timeouts, closed connections and missing JetStream to the store kind', () => {
    const timeout = new errors.TimeoutError();
    expect(translateNatsError(timeout, append)).toBeInstanceOf(StreamError);
    expect(translateNatsError(timeout, kv)).toBeInstanceOf(StorageError);
    expect(translateNatsError(new errors.ClosedConnectionError(), append).message).toMatch(
      /connection is not usable/,
    );
    const noResponders = new RequestError('no responders', {
      cause: new errors.NoRespondersError('s'),
    });
    expect(translateNatsError(noResponders, append)).toMatchObject({
      code: 'STREAM',
      cause: noResponders,
    });
    expect(translateNatsError(new Error('odd'), kv)).toMatchObject({ code: 'STORAGE' });
  });

  it('passes platform errors through', () => {
    const validation = new ValidationError('bad', 'x');
    expect(translateNatsError(validation, append)).toBe(validation);
  });
});
