import { describe, expect, it } from 'vitest';
import { ValidationError } from '@tenantfold/core';
import { compileFilter } from '../src/index.js';
import { FilterSyntaxError, formatFilter, parseFilter, parseSort } from '../src/language.js';

function syntaxError(text: string): FilterSyntaxError {
  try {
    parseFilter(text);
  } catch (error) {
    expect(error).toBeInstanceOf(FilterSyntaxError);
    expect(error).toBeInstanceOf(ValidationError);
    return error as FilterSyntaxError;
  }
  throw new Error(`${text} parsed`);
}

describe('parseFilter', () => {
  it('parses the examples of the issue into the typed AST', () => {
    expect(parseFilter('balance > 50 and status = "open"')).toEqual({
      kind: 'and',
      items: [
        { kind: 'compare', field: { kind: 'state', path: ['balance'] }, op: '>', value: 50 },
        { kind: 'compare', field: { kind: 'state', path: ['status'] }, op: '=', value: 'open' },
      ],
    });
    expect(parseFilter('not (owner.name = "x" or tier in ["gold", "silver"])')).toEqual({
      kind: 'not',
      item: {
        kind: 'or',
        items: [
          {
            kind: 'compare',
            field: { kind: 'state', path: ['owner', 'name'] },
            op: '=',
            value: 'x',
          },
          { kind: 'in', field: { kind: 'state', path: ['tier'] }, values: ['gold', 'silver'] },
        ],
      },
    });
    expect(parseFilter('exists(closed_at)')).toEqual({
      kind: 'exists',
      field: { kind: 'state', path: ['closed_at'] },
    });
    expect(parseFilter('name starts_with "Ac"')).toEqual({
      kind: 'starts_with',
      field: { kind: 'state', path: ['name'] },
      prefix: 'Ac',
    });
  });

  it('binds not tighter than and, and tighter than or', () => {
    expect(formatFilter(parseFilter('a = 1 or not b = 2 and c = 3'))).toBe(
      '(state.a = 1) or ((not (state.b = 2)) and (state.c = 3))',
    );
  });

  it('knows the row fields, reaches state fields of the same name with state.', () => {
    expect(parseFilter('version >= 2 and id != "x" and updated_at > "2026"')).toMatchObject({
      items: [
        { field: { kind: 'row', name: 'version' } },
        { field: { kind: 'row', name: 'id' } },
        { field: { kind: 'row', name: 'updated_at' } },
      ],
    });
    expect(parseFilter('state.id = 1')).toMatchObject({ field: { kind: 'state', path: ['id'] } });
    expect(parseFilter('state.not = true')).toMatchObject({
      field: { kind: 'state', path: ['not'] },
    });
    expect(parseFilter('notes = null')).toMatchObject({ field: { path: ['notes'] }, value: null });
  });

  it('reads every literal kind: strings with escapes, numbers, booleans, null', () => {
    expect(parseFilter('a in ["q\\"\\u00e9\\n", -1.5e3, 0, true, false, null]')).toHaveProperty(
      'values',
      ['q"é\n', -1500, 0, true, false, null],
    );
  });

  it('matches everything when empty', () => {
    expect(parseFilter('')).toEqual({ kind: 'all' });
    expect(parseFilter('  \n ')).toEqual({ kind: 'all' });
  });

  it.each([
    [
      'balance >',
      1,
      10,
      'Expected value (string, number, true, false or null) but end of input found',
    ],
    ['balance > 5 andy = 1', 1, 13, 'Expected "and", "or", or end of input but "a" found'],
    ['a = 1 and\n  (b = ', 2, 8, 'but end of input found'],
    ['(a = 1', 1, 7, 'Expected ")", "and", or "or"'],
    ['a == 1', 1, 4, 'but "=" found'],
    ["a = 'x'", 1, 5, 'Expected value'],
    ['balance < null', 1, 1, 'null can only be compared with = or !=, not <'],
    ['version = "3"', 1, 1, 'version is a number, it cannot be compared with a string'],
    ['id in ["a", 1]', 1, 1, 'id is a string, it cannot be compared with a number'],
    ['id.x = 1', 1, 1, 'write state.id.x for a path into the state'],
    ['and = 1', 1, 1, 'and is a keyword; write state.and'],
    ['state = 1', 1, 1, 'state needs a field after it'],
    ['a = 1e400', 1, 5, 'number 1e400 is out of range'],
  ])('rejects %j at line %i, column %i: %s', (text, line, column, reason) => {
    const error = syntaxError(text);
    expect(error.line).toBe(line);
    expect(error.column).toBe(column);
    expect(error.message).toContain(`invalid filter at line ${line}, column ${column}`);
    expect(error.message).toContain(reason);
    expect(error.field).toBe('filter');
    expect(error.toJSON()).toMatchObject({ code: 'VALIDATION', field: 'filter', line, column });
  });

  it('refuses what is too long or too deep, and what is not text', () => {
    expect(() => parseFilter(`a = "${'x'.repeat(5000)}"`)).toThrow(/over the limit of 4096/);
    expect(() => parseFilter(`${'not '.repeat(40)}a = 1`)).toThrow(/deeper than 32 levels/);
    expect(() => parseFilter(42)).toThrow(ValidationError);
  });
});

describe('injection', () => {
  const attempts = [
    `a = "'; DROP TABLE aggregates; --"`,
    `a = "\\") OR 1=1 --"`,
    `a starts_with "%' OR '1'='1"`,
    `a in ["x' UNION SELECT * FROM sqlite_schema --"]`,
  ];

  it.each(attempts)('keeps %s a bound parameter', (text) => {
    const { sql, params } = compileFilter(parseFilter(text));
    expect(sql).not.toMatch(/DROP|UNION|OR 1=1|'1'='1/);
    expect(params.some((p) => typeof p === 'string' && /DROP|UNION|OR|'1'/.test(p))).toBe(true);
  });

  it.each([`a'; DROP TABLE x; -- = 1`, `a"b = 1`, `a[0] = 1`, `a.'b' = 1`, `a-b = 1`])(
    'refuses %s as a path',
    (text) => expect(() => parseFilter(text)).toThrow(FilterSyntaxError),
  );

  it('refuses an unsafe path even in a hand-built AST', () => {
    const filter = {
      kind: 'exists',
      field: { kind: 'state', path: [`x')--`] },
    } as const;
    expect(() => compileFilter(filter)).toThrow(/unsafe state path part/);
  });
});

describe('parseSort', () => {
  it('reads fields in order with - for descending; id by default', () => {
    expect(parseSort('-balance, owner.name,id')).toEqual([
      { field: { kind: 'state', path: ['balance'] }, descending: true },
      { field: { kind: 'state', path: ['owner', 'name'] }, descending: false },
      { field: { kind: 'row', name: 'id' }, descending: false },
    ]);
    expect(parseSort('')).toEqual([{ field: { kind: 'row', name: 'id' }, descending: false }]);
    expect(parseSort(undefined)).toEqual(parseSort('id'));
  });

  it.each([
    ['id,balance', 'nothing can follow id'],
    ['a,-a', 'names state.a twice'],
    ['a,b,c,d,e', 'at most 4'],
    ['-', 'invalid sort at line 1, column 1'],
    ['a b', 'invalid sort at line 1, column 3'],
  ])('rejects %j (%s)', (text, message) => {
    expect(() => parseSort(text)).toThrow(message);
  });
});
