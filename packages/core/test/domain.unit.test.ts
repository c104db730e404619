import {
  AggregateId,
  canonicalJson,
  stateHash,
  AggregateType,
  DomainError,
  ERROR_STATUS,
  GrpcStatus,
  NotOwnerError,
  parseCommandEnvelope,
  parseEventEnvelope,
  statusFor,
  StreamKey,
  TenantId,
  traceIdOf,
  Uuid,
  ValidationError,
  VersionConflictError,
} from '@tenantfold/core';
import type { ErrorCode } from '@tenantfold/core';
import { describe, expect, it } from 'vitest';

describe('identifiers', () => {
  it.each(['acme', 'ACME_corp-1', 'a'.repeat(64)])('accepts tenant %s', (t) =>
    expect(TenantId.parse(t)).toBe(t),
  );
  it.each(['a b', 'a.b', 'a*', '>', 'x'.repeat(65), 'é', '=default', 42, null])(
    'rejects tenant %s',
    (t) => expect(() => TenantId.parse(t)).toThrow(ValidationError),
  );
  it('maps the default tenant to a token no valid tenant can produce', () => {
    expect(TenantId.token(TenantId.parse(''))).toBe('=default');
    expect(() => TenantId.parse(TenantId.token(TenantId.DEFAULT))).toThrow(ValidationError);
  });
  it('generates time-ordered UUID v7 aggregate ids', () => {
    const [a, b] = [AggregateId.new(), AggregateId.new()];
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a < b).toBe(true);
  });
  it.each(['Order', '1order', 'or der', 'a'.repeat(65)])('rejects aggregate type %s', (t) =>
    expect(() => AggregateType.parse(t)).toThrow(ValidationError),
  );
  it('round-trips stream keys through strings and subjects', () => {
    const key = StreamKey.of('acme', 'order', 'o-1');
    expect(StreamKey.fromString(StreamKey.toString(key))).toEqual(key);
    expect(StreamKey.subject(key)).toBe('tenant.acme.aggregate.order.o-1');
    expect(StreamKey.subject(StreamKey.of('', 'order', 'o-1'))).toBe(
      'tenant.=default.aggregate.order.o-1',
    );
    expect(StreamKey.fromString('=default.order.o-1').tenant).toBe('');
  });
});

describe('envelopes', () => {
  const command = {
    tenant_id: 'acme',
    command_id: '01933b5e-6f1c-7c3a-9d4e-123456789abc',
    aggregate_type: 'order',
    aggregate_id: 'o-1',
    payload: { type: 'Place', data: { sku: 'W-1', qty: 2 } },
    metadata: { source: 'test' },
    expected_version: 3,
    correlation_id: 'c-1',
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  };

  it('round-trips a command envelope through JSON', () => {
    const parsed = parseCommandEnvelope(command);
    expect(parseCommandEnvelope(JSON.parse(JSON.stringify(parsed)))).toEqual(parsed);
    expect(parsed).toEqual(command);
  });

  it('names the field of the first problem', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ tenant_id: 'a b' }, 'tenant_id'],
      [{ aggregate_id: '' }, 'aggregate_id'],
      [{ payload: { data: {} } }, 'payload'],
      [{ payload: { type: 'X', data: { f: () => 1 } } }, 'payload.data'],
      [{ metadata: { n: 1 } }, 'metadata'],
      [{ expected_version: -1 }, 'expected_version'],
      [{ command_id: 'abc' }, 'command_id'],
    ];
    for (const [change, field] of cases) {
      expect(() => parseCommandEnvelope({ ...command, ...change })).toThrow(
        expect.objectContaining({ field, code: 'VALIDATION' }),
      );
    }
  });

  it('round-trips an event envelope and rejects a broken one', () => {
    const event = {
      tenant_id: 'acme',
      event_id: '01933b5e-6f1c-7c3a-9d4e-123456789abd',
      aggregate_type: 'order',
      aggregate_id: 'o-1',
      version: 1,
      event_type: 'Placed',
      payload: { sku: 'W-1' },
      command_id: command.command_id,
      correlation_id: 'c-1',
      trace_id: '0af7651916cd43dd8448eb211c80319c',
      timestamp: '2026-11-23T10:00:00.000Z',
      metadata: {},
    };
    expect(parseEventEnvelope(JSON.parse(JSON.stringify(event)))).toEqual(event);
    expect(() => parseEventEnvelope({ ...event, timestamp: 'yesterday' })).toThrow(ValidationError);
  });

  it('takes the trace id from a valid traceparent and starts a new trace otherwise', () => {
    expect(traceIdOf(command.traceparent)).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(traceIdOf('garbage')).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('errors', () => {
  it('maps every code to a gRPC and an HTTP status in one table', () => {
    const codes: ErrorCode[] = [
      'TENANT_ACCESS_DENIED',
      'VALIDATION',
      'VERSION_CONFLICT',
      'STORAGE',
      'STREAM',
      'REHYDRATION',
      'DECIDE',
      'APPLY',
      'NOT_FOUND',
      'NOT_OWNER',
      'UNAVAILABLE',
      'PROGRAM_LIMIT',
    ];
    expect(Object.keys(ERROR_STATUS).sort()).toEqual([...codes].sort());
    expect(statusFor(new ValidationError('x'))).toEqual({
      grpc: GrpcStatus.INVALID_ARGUMENT,
      http: 400,
    });
    expect(statusFor(new DomainError('no'))).toEqual({
      grpc: GrpcStatus.FAILED_PRECONDITION,
      http: 422,
    });
    expect(statusFor(new VersionConflictError(1, 2))).toEqual({
      grpc: GrpcStatus.ABORTED,
      http: 409,
    });
    expect(statusFor(new Error('boom'))).toEqual({ grpc: GrpcStatus.INTERNAL, http: 500 });
  });

  it('carries a stable code, a name, context fields and the cause', () => {
    const cause = new Error('socket closed');
    const error = new NotOwnerError('acme', 'node-b', { cause });
    expect(error).toMatchObject({
      code: 'NOT_OWNER',
      name: 'NotOwnerError',
      owner: 'node-b',
      retryable: true,
      cause,
    });
    expect(error.toJSON()).toEqual({
      code: 'NOT_OWNER',
      message: "tenant 'acme' is served by node 'node-b'",
      owner: 'node-b',
    });
  });
});

describe('state hash', () => {
  it('is equal for equal states whatever the key order, and differs otherwise', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}',
    );
    expect(stateHash({ a: 1, b: 2 })).toBe(stateHash({ b: 2, a: 1 }));
    expect(stateHash({ a: 1, b: 2 })).not.toBe(stateHash({ a: 1, b: 3 }));
    expect(stateHash({ a: 1 })).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('generated ids', () => {
  it('are distinct across pool refills and keep the UUID v7 layout', () => {
    const ids = Array.from({ length: 1_000 }, () => Uuid.new()); // 16 kB of randomness: several refills
    expect(new Set(ids).size).toBe(1_000);
    expect([...ids].sort()).toEqual(ids); // time-ordered, also within one millisecond
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const traces = new Set(Array.from({ length: 1_000 }, () => traceIdOf(undefined)));
    expect(traces.size).toBe(1_000);
  });
});
