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
 *   TypeError or ReferenceError, a forbidden API, or a result that is not JSON;
 * - `L` + JSON `{name, message}`: a result over a data limit (nested too
 *   deep, a string or the whole too long): the program's output is refused.
 *
 * `install(factory, limits)` takes those limits (`{ jsonDepth, stringChars,
 * resultChars }`). Results are written as JSON by the bootstrap itself, not
 * `JSON.stringify`, reading each property once: a `toJSON`, an accessor or a
 * proxy cannot make the text differ from the value that was checked.
 */
export const OUTCOME_RETURNED = 'R';
export const OUTCOME_REJECTED = 'E';
export const OUTCOME_FAULT = 'F';
export const OUTCOME_LIMIT = 'L';

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
  const ArrayPrototype = Array.prototype;
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

  // What a value holds, read once: [keys (null for an array), values], or why it is not plain data.
  const entriesOf = (value) => {
    if (isArray(value)) {
      if (getPrototypeOf(value) !== ArrayPrototype) return 'is not a plain array';
      const length = value.length;
      if (ownKeys(value).length !== length + 1) return 'is an array with holes or extra properties';
      const values = [];
      for (let i = 0; i < length; i++) {
        const desc = getOwnPropertyDescriptor(value, i);
        if (desc === undefined || !('value' in desc)) return 'is an array with a hole or accessor at ' + i;
        values.push(desc.value);
      }
      return [null, values];
    }
    const proto = getPrototypeOf(value);
    if (proto === PromisePrototype) return 'is a Promise: programs must be synchronous';
    if (proto !== ObjectPrototype && proto !== null) return 'is not a plain object or array';
    const names = [];
    const values = [];
    for (const key of ownKeys(value)) {
      if (typeof key !== 'string') continue; // symbols are not JSON
      if (key === 'toJSON') return 'has a toJSON property: not plain data';
      const desc = getOwnPropertyDescriptor(value, key);
      if (desc === undefined || !desc.enumerable) continue;
      if (!('value' in desc)) return 'has an accessor property ' + stringify(key);
      names.push(key);
      values.push(desc.value);
    }
    return [names, values];
  };

  // Writes a result as JSON text itself, reading every property once, so the
  // host gets exactly what was checked: plain data (no toJSON, accessors,
  // NaN, or a proxy's second answer), at most maxDepth levels deep and
  // maxChars long. Iterative: no depth can exhaust the stack.
  // Returns [text], or ['F' or 'L' (a limit), path, message].
  const encode = (root) => {
    let out = '';
    const frames = []; // open containers: { value, names (null: array), values, next }
    const open = new NativeSet(); // their values: one met again is a cycle
    const pathHere = () => {
      let path = '';
      for (const f of frames) path += f.names === null ? '[' + (f.next - 1) + ']' : '.' + f.names[f.next - 1];
      return path.length <= 200 ? path : path.slice(0, 100) + '…' + path.slice(-60);
    };
    let value = root;
    for (;;) {
      if (value === null) out += 'null';
      else if (value === true) out += 'true';
      else if (value === false) out += 'false';
      else if (typeof value === 'string') {
        if (value.length > limits.stringChars) {
          return ['L', pathHere(), 'is a string of ' + value.length + ' characters, over the limit of ' + limits.stringChars];
        }
        out += stringify(value);
      } else if (typeof value === 'number') {
        if (!isFiniteNumber(value)) return ['F', pathHere(), 'is not a finite number (' + value + ')'];
        out += stringify(value);
      } else if (typeof value === 'object') {
        if (open.has(value)) return ['F', pathHere(), 'is circular'];
        if (frames.length >= limits.jsonDepth) {
          return ['L', pathHere(), 'nests deeper than the limit of ' + limits.jsonDepth + ' levels'];
        }
        const entries = entriesOf(value);
        if (typeof entries === 'string') return ['F', pathHere(), entries];
        for (const name of entries[0] ?? []) {
          if (name.length > limits.stringChars) {
            return ['L', pathHere(), 'has a key of ' + name.length + ' characters, over the limit of ' + limits.stringChars];
          }
        }
        frames.push({ value, names: entries[0], values: entries[1], next: 0 });
        open.add(value);
        out += entries[0] === null ? '[' : '{';
      } else {
        return ['F', pathHere(), 'is ' + (typeof value) + ', not JSON'];
      }
      if (out.length > limits.resultChars) {
        return ['L', '', 'is over the limit of ' + limits.resultChars + ' characters of JSON'];
      }
      let more = false;
      while (frames.length > 0) {
        const top = frames[frames.length - 1];
        if (top.next < top.values.length) {
          if (top.next > 0) out += ',';
          if (top.names !== null) out += stringify(top.names[top.next]) + ':';
          value = top.values[top.next++];
          more = true;
          break;
        }
        out += top.names === null ? ']' : '}';
        open.delete(top.value);
        frames.pop();
      }
      if (!more) return [out];
    }
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

  // One call of fn on a fresh scope; returns [JSON text of the result] or a report string.
  const once = (factory, name, args) => {
    const fn = factory()[name];
    if (typeof fn !== 'function') return report('F', 'TypeError', name + ' is not defined');
    const encoded = encode(apply(fn, undefined, args));
    if (encoded.length === 1) return encoded;
    const [kind, path, message] = encoded;
    return kind === 'L'
      ? report('L', 'RangeError', name + '() returned a value over a limit: result' + path + ' ' + message)
      : report('F', 'TypeError', name + '() returned a value that is not JSON: result' + path + ' ' + message);
  };

  const outcomeOf = (factory, name, args) => {
    try {
      const step = once(factory, name, args);
      return typeof step === 'string' ? step : 'R' + step[0];
    } catch (error) {
      return describeThrow(error);
    }
  };

  // What every result is held to (see encode): set once, by install.
  let limits;

  const install = (factory, resultLimits) => {
    limits = freeze({ ...resultLimits });
    return call(factory);
  };

  const call = (factory) => (name, argsJson, mode) => {
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
        // Each step's result is checked (and written) before the next step sees it.
        let state = args[0];
        let text = stringify(state);
        for (const item of args[1]) {
          const step = once(factory, name, [state, item]);
          if (typeof step === 'string') return step;
          text = step[0];
          state = parse(text);
        }
        return 'R' + text;
      }
      if (mode === 'each') {
        // args = [args0, args1, ...]: one call per entry, each on a fresh scope.
        const results = [];
        for (const entry of args) {
          const step = once(factory, name, entry);
          if (typeof step === 'string') return step;
          results.push(step[0]);
        }
        return 'R[' + results.join(',') + ']';
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
