/**
 * JavaScript that runs inside each isolate. It is kept as source text (not a
 * function stringified at runtime) so no bundler or transpiler can rewrite it.
 *
 * The bootstrap runs once per isolate, before any program code, and:
 *
 * - keeps only ECMAScript globals on an allowlist: `eval`, `console`,
 *   `WebAssembly`, `SharedArrayBuffer`, `Atomics`, `WeakRef`,
 *   `FinalizationRegistry` and `Intl` (which can read the clock) are removed;
 * - makes the clock and randomness throw: `Date.now()`, `Date()`,
 *   `new Date()` without arguments and `Math.random()` raise a TypeError
 *   (`new Date(value)` and date arithmetic still work);
 * - removes RegExp's legacy static properties (`RegExp.$1`, `lastMatch`, …),
 *   which would carry data from one call to the next;
 * - adds `reject(message)`, which throws `new Error(message)`;
 * - freezes every reachable intrinsic and the global object, so no call can
 *   leave state behind for the next one. Data properties that programs
 *   commonly shadow (`name`, `message`, `toString`, `constructor`, …) become
 *   accessors whose setter defines an own property, so `this.name = 'X'` in an
 *   Error subclass still works (the "override mistake" fix of SES).
 *
 * The bootstrap's completion value is `install(factory)`, which returns
 * `call(name, argsJson, mode)`. `factory` is the wrapped program (see
 * {@link wrapProgram}); `call` runs it afresh (new top-level bindings on every
 * call), calls the named function with the JSON-decoded arguments, and
 * returns a string whose first character says what happened. With `mode`
 * `'fold'` (`argsJson` = `[state, items]`) it folds `state = fn(state, item)`
 * over the items, and with `'each'` (`argsJson` = a list of argument lists)
 * it returns the list of results: one boundary crossing for many calls, each
 * still on a fresh scope; the first failure ends the batch. With `mode`
 * `'calls'` (`argsJson` = a list of `[name, args]`) the calls are independent:
 * each on a fresh scope, each with its own outcome string (below), the
 * outcomes joined by newlines (outcome strings never contain one: JSON text
 * escapes it).
 *
 * - `R` + JSON: the function returned this JSON value (`name === null` asks
 *   for the list of functions the program defines);
 * - `E` + JSON `{name, message}`: the program threw an `Error` (or a
 *   subclass it defined, or a string): a rejection;
 * - `F` + JSON `{name, message}`: a fault: a built-in error such as
 *   TypeError or ReferenceError, a forbidden API, or a result that is not JSON.
 */
export const OUTCOME_RETURNED = 'R';
export const OUTCOME_REJECTED = 'E';
export const OUTCOME_FAULT = 'F';

/** Names a program may define; the wrapper hands these (when defined) to the bootstrap. */
export const PROGRAM_FUNCTIONS = ['decide', 'evolve', 'initialState', 'project', 'react'] as const;
export type ProgramFunction = (typeof PROGRAM_FUNCTIONS)[number];

export const BOOTSTRAP_FILENAME = 'tenantfold:bootstrap.js';

export const BOOTSTRAP_SOURCE = String.raw`'use strict';
(() => {
  const g = globalThis;
  const { freeze, getPrototypeOf, getOwnPropertyDescriptor, defineProperty, keys } = Object;
  const { ownKeys, apply, construct } = Reflect;
  const isArray = Array.isArray;
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  const isFiniteNumber = Number.isFinite;
  const NativeSet = Set;
  const NativeError = Error;
  const NativeDate = Date;
  const NativeString = String;
  const ObjectPrototype = Object.prototype;
  const PromisePrototype = Promise.prototype;
  const FAULTS = [TypeError, RangeError, ReferenceError, SyntaxError, EvalError, URIError];

  const ALLOWED = new NativeSet([
    'Object', 'Function', 'Array', 'Number', 'parseFloat', 'parseInt', 'Infinity', 'NaN',
    'undefined', 'Boolean', 'String', 'Symbol', 'Date', 'Promise', 'RegExp', 'Error',
    'AggregateError', 'EvalError', 'RangeError', 'ReferenceError', 'SyntaxError', 'TypeError',
    'URIError', 'globalThis', 'JSON', 'Math', 'ArrayBuffer', 'Uint8Array', 'Int8Array',
    'Uint16Array', 'Int16Array', 'Uint32Array', 'Int32Array', 'Float32Array', 'Float64Array',
    'Uint8ClampedArray', 'BigUint64Array', 'BigInt64Array', 'DataView', 'Map', 'BigInt', 'Set',
    'WeakMap', 'WeakSet', 'Proxy', 'Reflect', 'decodeURI', 'decodeURIComponent', 'encodeURI',
    'encodeURIComponent', 'escape', 'unescape', 'isFinite', 'isNaN',
  ]);
  for (const name of ownKeys(g)) {
    if (!ALLOWED.has(name)) delete g[name];
  }

  const forbidden = (what) =>
    new TypeError(what + ' is not available in a program: programs are deterministic ' +
      '(take times and ids from the command)');
  const SafeDate = function Date(...args) {
    if (new.target === undefined) throw forbidden('Date()');
    if (args.length === 0) throw forbidden('new Date()');
    return construct(NativeDate, args, new.target);
  };
  SafeDate.prototype = NativeDate.prototype;
  SafeDate.UTC = NativeDate.UTC;
  SafeDate.parse = NativeDate.parse;
  SafeDate.now = function now() { throw forbidden('Date.now()'); };
  defineProperty(NativeDate.prototype, 'constructor', { value: SafeDate });
  g.Date = SafeDate;
  Math.random = function random() { throw forbidden('Math.random()'); };

  for (const key of ownKeys(RegExp)) {
    if (typeof key === 'string' && key !== 'length' && key !== 'name' && key !== 'prototype') {
      delete RegExp[key];
    }
  }

  defineProperty(g, 'reject', {
    value: function reject(message) { throw new NativeError(NativeString(message)); },
  });

  const shadowable = (object, names) => {
    for (const name of names) {
      const desc = getOwnPropertyDescriptor(object, name);
      if (desc === undefined || !('value' in desc)) continue;
      const value = desc.value;
      defineProperty(object, name, {
        get() { return value; },
        set(next) {
          if (this === object) throw new TypeError('Cannot assign to read only property ' + name);
          defineProperty(this, name, { value: next, writable: true, enumerable: true, configurable: true });
        },
        enumerable: desc.enumerable,
        configurable: false,
      });
    }
  };
  shadowable(ObjectPrototype, ['constructor', 'toString', 'toLocaleString', 'valueOf',
    'hasOwnProperty', 'isPrototypeOf', 'propertyIsEnumerable']);
  for (const E of [NativeError, AggregateError, ...FAULTS]) {
    shadowable(E.prototype, ['name', 'message', 'constructor', 'toString']);
  }
  shadowable(Function.prototype, ['toString']);

  const hidden = [
    getPrototypeOf(function* () {}),
    getPrototypeOf(async function () {}),
    getPrototypeOf(async function* () {}),
    getPrototypeOf((function* () {})()),
    getPrototypeOf((async function* () {})()),
    getPrototypeOf([][Symbol.iterator]()),
    getPrototypeOf(new Map()[Symbol.iterator]()),
    getPrototypeOf(new Set()[Symbol.iterator]()),
    getPrototypeOf(''[Symbol.iterator]()),
    getPrototypeOf(/x/[Symbol.matchAll]('')),
    getPrototypeOf(Int8Array),
    (function () { return getOwnPropertyDescriptor(arguments, 'callee').get; })(),
  ];
  const seen = new NativeSet();
  const pending = [g, ...hidden];
  while (pending.length > 0) {
    const item = pending.pop();
    if ((typeof item !== 'object' && typeof item !== 'function') || item === null) continue;
    if (seen.has(item)) continue;
    seen.add(item);
    freeze(item);
    pending.push(getPrototypeOf(item));
    for (const key of ownKeys(item)) {
      const desc = getOwnPropertyDescriptor(item, key);
      if ('value' in desc) pending.push(desc.value);
      else pending.push(desc.get, desc.set);
    }
  }

  const jsonProblem = (value, path, parents) => {
    if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined;
    if (typeof value === 'number') {
      return isFiniteNumber(value) ? undefined : path + ' is not a finite number (' + value + ')';
    }
    if (typeof value !== 'object') return path + ' is ' + (typeof value) + ', not JSON';
    if (parents.has(value)) return path + ' is circular';
    if (isArray(value)) {
      parents.add(value);
      for (let i = 0; i < value.length; i++) {
        const problem = jsonProblem(value[i], path + '[' + i + ']', parents);
        if (problem !== undefined) return problem;
      }
      parents.delete(value);
      return undefined;
    }
    const proto = getPrototypeOf(value);
    if (proto === PromisePrototype) {
      return path + ' is a Promise: programs must be synchronous';
    }
    if (proto !== ObjectPrototype && proto !== null) {
      return path + ' is not a plain object or array';
    }
    parents.add(value);
    for (const key of keys(value)) {
      const problem = jsonProblem(value[key], path + '.' + key, parents);
      if (problem !== undefined) return problem;
    }
    parents.delete(value);
    return undefined;
  };

  const report = (kind, name, message) =>
    kind + stringify({ name: NativeString(name), message: NativeString(message) });

  const describeThrow = (error) => {
    try {
      if (typeof error === 'string') return report('E', 'Error', error);
      if (error instanceof NativeError) {
        const fault = FAULTS.some((F) => error instanceof F);
        return report(fault ? 'F' : 'E', error.name, error.message);
      }
      return report('F', 'Error', 'threw a value that is not an Error: ' + NativeString(error));
    } catch {
      return report('F', 'Error', 'threw a value that cannot be described');
    }
  };

  // One call of fn on a fresh scope; returns [result] or a report string.
  const once = (factory, name, args) => {
    const fn = factory()[name];
    if (typeof fn !== 'function') return report('F', 'TypeError', name + ' is not defined');
    const result = apply(fn, undefined, args);
    const problem = jsonProblem(result, 'result', new NativeSet());
    if (problem !== undefined) return report('F', 'TypeError', name + '() returned a value that is not JSON: ' + problem);
    return [result];
  };

  const outcomeOf = (factory, name, args) => {
    try {
      const step = once(factory, name, args);
      return typeof step === 'string' ? step : 'R' + stringify(step[0]);
    } catch (error) {
      return describeThrow(error);
    }
  };

  const install = (factory) => (name, argsJson, mode) => {
    try {
      if (mode === 'calls') {
        // args = [[name0, args0], ...]: independent calls, one outcome line each.
        const calls = parse(argsJson);
        let outcomes = '';
        for (let i = 0; i < calls.length; i++) {
          if (i > 0) outcomes += '\n';
          outcomes += outcomeOf(factory, calls[i][0], calls[i][1]);
        }
        return outcomes;
      }
      if (name === null) {
        const scope = factory();
        return 'R' + stringify(keys(scope).filter((k) => typeof scope[k] === 'function'));
      }
      const args = parse(argsJson);
      if (mode === 'fold') {
        // args = [state, items]: state = fn(state, item) for each item, each on a fresh scope.
        let state = args[0];
        for (const item of args[1]) {
          const step = once(factory, name, [state, item]);
          if (typeof step === 'string') return step;
          state = step[0];
        }
        return 'R' + stringify(state);
      }
      if (mode === 'each') {
        // args = [args0, args1, ...]: one call per entry, each on a fresh scope.
        const results = [];
        for (const entry of args) {
          const step = once(factory, name, entry);
          if (typeof step === 'string') return step;
          results.push(step[0]);
        }
        return 'R' + stringify(results);
      }
      return outcomeOf(factory, name, args);
    } catch (error) {
      return describeThrow(error);
    }
  };
  return install;
})();
`;

const WRAPPER_PREFIX = "(function () { 'use strict'; ";

/**
 * The program as a factory function: every call of the factory evaluates the
 * program's top level again, so nothing a call leaves in a top-level variable
 * is seen by the next call. The prefix sits on the program's first line and
 * `columnOffset` cancels it, so positions in errors match the file.
 */
export function wrapProgram(code: string): {
  readonly code: string;
  readonly columnOffset: number;
} {
  const exports = PROGRAM_FUNCTIONS.map(
    (name) => `${name}: typeof ${name} === 'function' ? ${name} : undefined`,
  ).join(', ');
  return {
    code: `${WRAPPER_PREFIX}${code}\n;return { ${exports} };\n})`,
    columnOffset: -WRAPPER_PREFIX.length,
  };
}

const STRICT_PREFIX = "'use strict'; ";

/**
 * The program alone, as a strict script: compiling this first reports syntax
 * errors at their real positions, and refuses code that would only parse
 * inside the wrapper (such as `}); let leak = []; (function () {`, which
 * would escape the per-call scope).
 */
export function standaloneProgram(code: string): {
  readonly code: string;
  readonly columnOffset: number;
} {
  return { code: `${STRICT_PREFIX}${code}\n`, columnOffset: -STRICT_PREFIX.length };
}
