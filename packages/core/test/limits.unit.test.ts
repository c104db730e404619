import { describe, expect, it } from 'vitest';
import {
  assertJson,
  DEFAULT_DATA_LIMITS,
  dataLimitsOf,
  jsonProblem,
  loadSettings,
  dataLimitSetting,
  parseCommandEnvelope,
  preview,
  resolveDataLimits,
  ValidationError,
} from '../src/index.js';

const nested = (levels: number): unknown => {
  let value: unknown = 0;
  for (let i = 0; i < levels; i++) value = { in: value };
  return value;
};

describe('jsonProblem', () => {
  it('accepts plain JSON up to the depth limit and names the path past it', () => {
    expect(jsonProblem(nested(64))).toBeUndefined();
    expect(jsonProblem(nested(65))).toMatchObject({
      limit: 'jsonDepth',
      message: 'nests deeper than the limit of 64 levels (or is circular)',
    });
  });

  it('answers a value nested 100,000 levels deep without overflowing the stack', () => {
    expect(jsonProblem(nested(100_000))?.limit).toBe('jsonDepth');
    expect(() =>
      assertJson(JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`), 'data'),
    ).toThrow(ValidationError);
  });

  it('refuses what JSON cannot hold, cycles and toJSON included', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    const hidden = Object.defineProperty(Object.create(null) as object, 'toJSON', {
      value: () => 1,
    });
    expect(jsonProblem({ a: [1, Number.NaN] })).toMatchObject({ path: '.a[1]' });
    expect(jsonProblem({ f: () => 1 })?.message).toMatch(/is not JSON \(function\)/);
    expect(jsonProblem(new Date())?.message).toBe('is not a plain object');
    expect(jsonProblem(cycle)?.limit).toBe('jsonDepth');
    expect(jsonProblem({ x: hidden })?.message).toMatch(/toJSON/);
  });

  it('holds strings and keys to the string limit', () => {
    const limits = { jsonDepth: 8, stringChars: 3 };
    expect(jsonProblem({ abc: 'abc' }, limits)).toBeUndefined();
    expect(jsonProblem({ abcd: 1 }, limits)?.limit).toBe('stringChars');
    expect(jsonProblem(['abcd'], limits)).toMatchObject({ limit: 'stringChars', path: '[0]' });
  });
});

describe('a command checked once', () => {
  const body = {
    tenant_id: 't',
    aggregate_type: 'account',
    aggregate_id: 'a1',
    payload: { type: 'Deposit', data: { amount: 1 } },
  };

  it('is not walked again with the same limits, and is frozen so that what was checked runs', () => {
    const envelope = parseCommandEnvelope(body);
    expect(parseCommandEnvelope(envelope)).toBe(envelope);
    expect(Object.isFrozen(envelope)).toBe(true);
  });

  it('is checked again against other limits, and a look-alike object always is', () => {
    const envelope = parseCommandEnvelope(body);
    const tight = resolveDataLimits({ stringChars: 2 }); // the key "amount" is over it
    expect(() => parseCommandEnvelope(envelope, tight)).toThrow(/over the limit of 2/);
    expect(parseCommandEnvelope({ ...envelope })).not.toBe(envelope);
  });
});

describe('error messages quoting client values', () => {
  it('refuses any field nested 100,000 levels deep with VALIDATION, not a stack overflow (found by the fuzz suite)', () => {
    const deep: unknown = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`);
    const base = { tenant_id: 't', aggregate_type: 'account', aggregate_id: 'a' };
    for (const body of [
      { ...base, aggregate_type: deep, payload: { type: 'X' } },
      { ...base, command_id: deep, payload: { type: 'X' } },
      { ...base, expected_version: deep, payload: { type: 'X' } },
      { ...base, payload: { type: deep } },
    ]) {
      expect(() => parseCommandEnvelope(body)).toThrow(/an array/);
    }
    expect(preview('x'.repeat(500))).toBe(`"${'x'.repeat(120)}"…`);
  });
});

describe('data limit settings', () => {
  it('defaults every limit and takes overrides from the service settings', () => {
    const spec = { limitJsonDepth: dataLimitSetting('X', 'jsonDepth') };
    const config = loadSettings(spec, { X_LIMIT_JSON_DEPTH: '16' }, { fileEnv: 'X_CONFIG' });
    expect(dataLimitsOf(config)).toEqual({ ...DEFAULT_DATA_LIMITS, jsonDepth: 16 });
  });

  it('refuses a limit out of range with its key and value', () => {
    const spec = { limitJsonDepth: dataLimitSetting('X', 'jsonDepth') };
    expect(() =>
      loadSettings(spec, { X_LIMIT_JSON_DEPTH: '100000' }, { fileEnv: 'X_CONFIG' }),
    ).toThrow(/X_LIMIT_JSON_DEPTH.*100000/);
    expect(() => resolveDataLimits({ eventsPerCommand: 0 })).toThrow(/limits.eventsPerCommand/);
  });
});
