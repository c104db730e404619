import type { Command, JsonValue } from '@tenantfold/core';
import { ApplyError, DomainError, ProgramLimitError, ValidationError } from '@tenantfold/core';
import { ProgramRuntime } from '@tenantfold/programs';
import { afterAll, describe, expect, it } from 'vitest';
import { probe } from './helpers.js';

const runtime = new ProgramRuntime();
afterAll(() => runtime.dispose());

const command: Command = { type: 'Probe', data: {} };

/** The event data a decide body returns as `{ type: 'Probed', data: <expression> }`. */
async function probed(body: string): Promise<JsonValue> {
  const decider = await probe(runtime, `function decide(state, command) { ${body} }`);
  const [event] = await decider.decide({}, command);
  return event?.data ?? null;
}

/** The error a decide body throws. */
async function thrown(body: string): Promise<Error> {
  const decider = await probe(runtime, `function decide(state, command) { ${body} }`);
  return decider.decide({}, command).then(
    () => {
      throw new Error('decide did not throw');
    },
    (error: unknown) => error as Error,
  );
}

describe('escape attempts', () => {
  it.each([
    [
      'this.constructor.constructor',
      "this.constructor.constructor('return process')()",
      /TypeError/,
    ],
    [
      "a method's this.constructor.constructor",
      "const o = { f() { return this.constructor.constructor('return process')(); } }; o.f()",
      /ReferenceError: process is not defined/,
    ],
    [
      'Function from a closure',
      "(() => 0).constructor('return process')()",
      /process is not defined/,
    ],
    ['require', "require('fs')", /ReferenceError: require is not defined/],
    ['process.env', 'process.env.HOME', /ReferenceError: process is not defined/],
    ['setTimeout', 'setTimeout(() => {}, 0)', /ReferenceError: setTimeout is not defined/],
    ['setInterval', 'setInterval(() => {}, 0)', /ReferenceError: setInterval is not defined/],
    ['fetch', "fetch('http://127.0.0.1/')", /ReferenceError: fetch is not defined/],
    ['console', "console.log('hi')", /ReferenceError: console is not defined/],
    ['eval', "eval('1')", /ReferenceError: eval is not defined/],
    ['import()', "return import('fs')", /decide failed/],
  ])('%s fails', async (_name, body) => {
    const error = await thrown(`${body};`);
    expect(error).toBeInstanceOf(DomainError);
    expect(error.message).toMatch(/^probe: probe\.js: decide failed: /);
  });

  it('each escape fails for the reason given', async () => {
    expect(
      (await thrown("return this.constructor.constructor('return process')()")).message,
    ).toMatch(/TypeError: Cannot read properties of undefined/);
    expect((await thrown("require('fs')")).message).toMatch(/require is not defined/);
    expect((await thrown("return import('fs')")).message).toMatch(/decide failed: \w*Error: /);
  });

  it('import() fails, and the program keeps working', async () => {
    const decider = await probe(
      runtime,
      `function decide(state, command) {
        if (command.type === 'Import') return import('fs');
        return { type: 'Done', data: {} };
      }`,
    );
    await expect(decider.decide({}, { type: 'Import', data: {} })).rejects.toThrow(DomainError);
    expect(await decider.decide({}, command)).toEqual([{ type: 'Done', data: {} }]);
  });

  it('sees no host objects on the global, which is frozen', async () => {
    const data = await probed(`
      const g = Function('return this')();
      const names = ['process', 'require', 'module', 'Buffer', 'setTimeout', 'setImmediate',
        'queueMicrotask', 'fetch', 'console', 'eval', 'WebAssembly', 'SharedArrayBuffer',
        'Atomics', 'WeakRef', 'FinalizationRegistry', 'Intl', 'performance', 'crypto'];
      return { type: 'Probed', data: {
        same: g === globalThis,
        frozen: Object.isFrozen(g),
        present: names.filter((n) => typeof g[n] !== 'undefined'),
      } };`);
    expect(data).toEqual({ same: true, frozen: true, present: [] });
  });

  it('refuses an import statement at load', async () => {
    const loading = probe(runtime, "import fs from 'fs';\nfunction decide() { return []; }");
    await expect(loading).rejects.toBeInstanceOf(ValidationError);
    await expect(loading).rejects.toThrow(/probe\.js: SyntaxError: Cannot use import statement/);
  });
});

describe('determinism', () => {
  it.each([
    ['Date.now()', 'Date.now()'],
    ['new Date()', 'new Date()'],
    ['Date()', 'Date()'],
    ['Math.random()', 'Math.random()'],
    ['new Date(0).constructor.now()', 'Date.now()'],
  ])('%s throws', async (expression, reported) => {
    const error = await thrown(`return { type: 'T', data: { v: ${expression} } };`);
    expect(error).toBeInstanceOf(DomainError);
    expect(error.message).toContain(`TypeError: ${reported} is not available in a program`);
  });

  it('cannot observe the clock or randomness, so every call sees the same', async () => {
    const body = `
      const attempt = (f) => { try { return f(); } catch (e) { return e.name; } };
      return { type: 'Probed', data: [
        attempt(() => Date.now()), attempt(() => new Date().getTime()), attempt(() => Math.random()),
        attempt(() => new Intl.DateTimeFormat().format()), attempt(() => performance.now()),
      ] };`;
    const first = await probed(body);
    expect(first).toEqual([
      'TypeError',
      'TypeError',
      'TypeError',
      'ReferenceError',
      'ReferenceError',
    ]);
    for (let i = 0; i < 5; i++) expect(await probed(body)).toEqual(first);
  });

  it('keeps dates that are computed from data', async () => {
    const data = await probed(
      "return { type: 'Probed', data: { at: new Date('2024-02-29T12:00:00Z').toISOString(), " +
        'utc: Date.UTC(2024, 0, 1) } };',
    );
    expect(data).toEqual({ at: '2024-02-29T12:00:00.000Z', utc: Date.UTC(2024, 0, 1) });
  });
});

describe('no state survives from one call to the next', () => {
  it('runs the top level afresh on every call', async () => {
    const decider = await probe(
      runtime,
      "let calls = 0;\nfunction decide() { calls += 1; return { type: 'Counted', data: { calls } }; }",
    );
    for (let i = 0; i < 3; i++) {
      expect(await decider.decide({}, command)).toEqual([{ type: 'Counted', data: { calls: 1 } }]);
    }
  });

  it.each([
    ['a global', 'globalThis.leak = 1'],
    ['Array.prototype', 'Array.prototype.leak = 1'],
    ['Object.prototype.toString', 'Object.prototype.toString = () => "x"'],
    ['JSON', 'JSON.parse = () => 1'],
  ])('cannot change %s', async (_what, statement) => {
    const error = await thrown(`${statement};`);
    expect(error).toBeInstanceOf(DomainError);
    expect(error.message).toMatch(/TypeError/);
  });

  it('forgets the last RegExp match', async () => {
    await probed("/(s3cr3t)/.exec('s3cr3t'); return { type: 'Probed', data: {} };");
    expect(await probed("return { type: 'Probed', data: { m: typeof RegExp.$1 } };")).toEqual({
      m: 'undefined',
    });
  });

  it('still lets an Error subclass set its own name', async () => {
    const error = await thrown(`
      class Refused extends Error { constructor(m) { super(m); this.name = 'Refused'; } }
      throw new Refused('refused by rule 7');`);
    expect(error).toBeInstanceOf(DomainError);
    expect(error.message).toBe('refused by rule 7');
  });
});

describe('results and rejections', () => {
  it.each([
    ['reject(message)', "reject('no way')"],
    ['throw new Error(message)', "throw new Error('no way')"],
    ['throw a string', "throw 'no way'"],
  ])('%s is a DomainError with exactly the message', async (_how, statement) => {
    const error = await thrown(statement);
    expect(error).toBeInstanceOf(DomainError);
    expect(error.message).toBe('no way');
  });

  it('reports a bug as a DomainError naming the type, the file and the error', async () => {
    const error = await thrown('return command.data.missing.field;');
    expect(error).toBeInstanceOf(DomainError);
    expect(error.message).toMatch(/^probe: probe\.js: decide failed: TypeError: Cannot read/);
  });

  it('returns one event or many', async () => {
    const decider = await probe(
      runtime,
      `function decide(state, command) {
        return command.type === 'One' ? { type: 'A', data: { n: 1 } }
          : [{ type: 'A', data: { n: 1 } }, { type: 'B' }];
      }`,
    );
    expect(await decider.decide({}, { type: 'One', data: {} })).toEqual([
      { type: 'A', data: { n: 1 } },
    ]);
    expect(await decider.decide({}, { type: 'Two', data: {} })).toEqual([
      { type: 'A', data: { n: 1 } },
      { type: 'B', data: {} },
    ]);
  });

  it.each([
    ['undefined', 'return undefined;', /result is undefined, not JSON/],
    [
      'a Date',
      "return { type: 'T', data: { at: new Date(0) } };",
      /result\.data\.at is not a plain object/,
    ],
    ['NaN', "return { type: 'T', data: { n: 0 / 0 } };", /result\.data\.n is not a finite number/],
    ['a function', "return { type: 'T', data: { f() {} } };", /result\.data\.f is function/],
    [
      'a cycle',
      "const d = {}; d.self = d; return { type: 'T', data: d };",
      /result\.data\.self is circular/,
    ],
    [
      'a Promise',
      "return Promise.resolve({ type: 'T', data: {} });",
      /is a Promise: programs must be synchronous/,
    ],
    ['an event without a type', 'return { data: {} };', /returned an invalid event/],
  ])('refuses %s as a result', async (_what, body, message) => {
    const error = await thrown(body);
    expect(error).toBeInstanceOf(DomainError);
    expect(error.message).toMatch(message);
  });

  it('reports a failing evolve as an ApplyError', async () => {
    const decider = await probe(runtime, 'function decide() { return []; }', {
      apply: `function initialState() { return { n: 0 }; }
        function evolve(state, event) { return event.type === 'Bad' ? undefined : state; }`,
    });
    expect(await decider.evolve({ n: 0 }, { type: 'Good', data: {} })).toEqual({ n: 0 });
    await expect(decider.evolve({ n: 0 }, { type: 'Bad', data: {} })).rejects.toThrow(ApplyError);
    await expect(decider.evolve({ n: 0 }, { type: 'Bad', data: {} })).rejects.toThrow(
      /probe: probe\.js: evolve failed on Bad: TypeError: evolve\(\) returned a value that is not JSON/,
    );
  });

  it('gives each caller its own copy of the initial state', async () => {
    const decider = await probe(runtime, 'function decide() { return []; }', {
      apply: 'function initialState() { return { items: [] }; }\nfunction evolve(s) { return s; }',
    });
    const first = decider.initialState() as { items: number[] };
    first.items.push(1);
    expect(decider.initialState()).toEqual({ items: [] });
  });
});

describe('load-time checks', () => {
  const load = (code: string) => probe(runtime, code, { apply: '' });
  const complete = (code: string) =>
    `${code}\nfunction evolve(s) { return s; }\nfunction initialState() { return {}; }`;

  it('reports a syntax error with the file, line and column', async () => {
    const loading = load(complete('function decide(state, command) {\n  return [;\n}'));
    await expect(loading).rejects.toBeInstanceOf(ValidationError);
    await expect(loading).rejects.toThrow(
      /^probe\.js: SyntaxError: Unexpected token .*\[probe\.js:2:11\]/,
    );
    await expect(loading).rejects.toMatchObject({ field: 'decide' });
  });

  it('reports strict-mode errors at their position', async () => {
    await expect(load(complete('function decide() { with ({}) {} }'))).rejects.toThrow(
      /probe\.js: SyntaxError: Strict mode code may not include a with statement \[probe\.js:1:21\]/,
    );
  });

  it('refuses code that would break out of its per-call scope', async () => {
    const loading = load(
      complete('function decide() { return []; }\n}); let leak = []; (function () {'),
    );
    await expect(loading).rejects.toBeInstanceOf(ValidationError);
    await expect(loading).rejects.toThrow(/SyntaxError/);
  });

  it('reports missing contract functions, naming the file and the field', async () => {
    const decide = load(complete('function decider() { return []; }'));
    await expect(decide).rejects.toBeInstanceOf(ValidationError);
    await expect(decide).rejects.toThrow(
      'probe.js: does not define function decide(state, command)',
    );
    await expect(decide).rejects.toMatchObject({ field: 'decide' });
    const apply = probe(runtime, 'function decide() { return []; }', {
      apply: 'function evolve(s) { return s; }',
    });
    await expect(apply).rejects.toThrow('probe.js: does not define function initialState()');
    await expect(apply).rejects.toMatchObject({ field: 'apply' });
  });

  it('reports a top level that throws', async () => {
    await expect(load(complete("throw new Error('broken');"))).rejects.toThrow(
      /^probe\.js: top-level code threw broken$/,
    );
  });

  it('reports a top level that loops, with the limit as the cause', async () => {
    const loading = probe(runtime, 'while (true) {}\nfunction decide() { return []; }', {
      limits: { cpuMs: 20 },
    });
    await expect(loading).rejects.toBeInstanceOf(ValidationError);
    const error = await loading.then(
      () => new Error('the program loaded'),
      (e: unknown) => e as Error,
    );
    expect(error.cause).toBeInstanceOf(ProgramLimitError);
    expect(error.message).toMatch(/top-level code exceeded the CPU limit of 20 ms/);
  });

  it('reports an initialState that throws', async () => {
    await expect(
      probe(runtime, 'function decide() { return []; }', {
        apply: "function evolve(s) { return s; }\nfunction initialState() { reject('nope'); }",
      }),
    ).rejects.toThrow('probe.js: initialState() threw nope');
  });

  it('validates the aggregate type', async () => {
    await expect(
      probe(runtime, 'function decide() { return []; }', { type: 'Bad Type' }),
    ).rejects.toThrow(ValidationError);
  });
});
