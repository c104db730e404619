import { ValidationError } from '../errors/index.js';

/** How one setting is read: its YAML key, its env variable, its parser and default. */
export interface SettingSpec<T> {
  /** Key in the YAML file (camelCase). */
  readonly key: string;
  /** Environment variable; wins over the file. Blank values count as unset. */
  readonly env: string;
  readonly parse: (raw: unknown) => T;
  /** Used when neither env nor file sets it; absent means required. */
  readonly default?: T;
  /** One line for `--help` and the README's table. */
  readonly doc: string;
  /** Never echoed in errors or logs. */
  readonly secret?: boolean;
}

export type SettingsSpec = Record<string, SettingSpec<unknown>>;
export type SettingsOf<S extends SettingsSpec> = {
  readonly [K in keyof S]: ReturnType<S[K]['parse']>;
};

/** Every problem with a configuration, reported at once. */
export class ConfigError extends ValidationError {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`, 'config');
  }
}

/**
 * Reads settings from env (wins) and a parsed YAML object; validates all of
 * them and returns a frozen result, or throws one `ConfigError` naming every
 * bad key and value.
 */
export function readSettings<S extends SettingsSpec>(
  spec: S,
  env: Readonly<Record<string, string | undefined>>,
  file: Readonly<Record<string, unknown>> = {},
): SettingsOf<S> {
  const problems: string[] = [];
  const known = new Set(Object.values(spec).map((s) => s.key));
  for (const key of Object.keys(file)) {
    if (!known.has(key))
      problems.push(`unknown key '${key}' in the config file (known: ${[...known].join(', ')})`);
  }
  const out: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(spec)) {
    const fromEnv = env[setting.env];
    const raw = fromEnv !== undefined && fromEnv.trim() !== '' ? fromEnv.trim() : file[setting.key];
    const source = fromEnv !== undefined && fromEnv.trim() !== '' ? setting.env : setting.key;
    if (raw === undefined || raw === null || raw === '') {
      if ('default' in setting) out[name] = setting.default;
      else
        problems.push(
          `${setting.env} (or '${setting.key}' in the file) is required: ${setting.doc}`,
        );
      continue;
    }
    try {
      out[name] = setting.parse(raw);
    } catch (error) {
      const shown = setting.secret === true ? '<secret>' : JSON.stringify(raw);
      problems.push(`${source}=${shown}: ${(error as Error).message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(out) as SettingsOf<S>;
}

/** Parsers for common setting types; each throws with what it expected. */
export const parse = {
  string: (raw: unknown): string => {
    if (typeof raw !== 'string' && typeof raw !== 'number') throw new Error('expected a string');
    return String(raw);
  },
  integer(min: number, max = Number.MAX_SAFE_INTEGER) {
    return (raw: unknown): number => {
      const n = typeof raw === 'number' ? raw : Number(String(raw));
      if (!Number.isSafeInteger(n) || n < min || n > max)
        throw new Error(`expected an integer from ${min} to ${max}`);
      return n;
    };
  },
  boolean: (raw: unknown): boolean => {
    if (raw === true || raw === 'true' || raw === '1') return true;
    if (raw === false || raw === 'false' || raw === '0') return false;
    throw new Error('expected true or false');
  },
  /** `host:port`; port 0 lets the OS choose. */
  listenAddress: (raw: unknown): { host: string; port: number } => {
    const match = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(String(raw));
    const port = Number(match?.[2]);
    if (match?.[1] === undefined || port > 65535)
      throw new Error('expected host:port, e.g. 127.0.0.1:50051');
    return { host: match[1], port };
  },
  oneOf<T extends string>(...values: T[]) {
    return (raw: unknown): T => {
      if (!values.includes(raw as T)) throw new Error(`expected one of ${values.join(', ')}`);
      return raw as T;
    };
  },
  /** A pino log level. */
  logLevel: (raw: unknown): 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent' =>
    parse.oneOf('trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent')(raw),
  /** Comma-separated list (or a YAML list) of URLs with the given schemes. */
  urls(...schemes: string[]) {
    return (raw: unknown): string[] => {
      const items = Array.isArray(raw) ? raw.map(String) : String(raw).split(',');
      return items.map((item) => {
        const url = item.trim();
        let parsed: URL;
        try {
          parsed = new URL(url);
        } catch {
          throw new Error(`'${url}' is not a URL`);
        }
        if (!schemes.includes(parsed.protocol.slice(0, -1))) {
          throw new Error(`'${url}' must use ${schemes.map((s) => `${s}://`).join(' or ')}`);
        }
        return url;
      });
    };
  },
};
