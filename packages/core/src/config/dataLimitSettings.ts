import type { DataLimits } from '../domain/index.js';
import {
  DATA_LIMIT_CEILINGS,
  DATA_LIMIT_KEYS,
  DEFAULT_DATA_LIMITS,
  resolveDataLimits,
} from '../domain/index.js';
import type { SettingSpec } from './settings.js';
import { parse } from './settings.js';

const LIMIT_DOCS: Readonly<Record<keyof DataLimits, readonly [env: string, doc: string]>> = {
  jsonDepth: ['LIMIT_JSON_DEPTH', 'deepest nesting of any JSON value (command, event, state)'],
  stringChars: ['LIMIT_STRING_CHARS', 'longest string (value or key) in any JSON value'],
  commandBytes: ['LIMIT_COMMAND_BYTES', 'largest command data, bytes of JSON'],
  eventsPerCommand: ['LIMIT_EVENTS_PER_COMMAND', 'most events one command may produce'],
  commitBytes: ['LIMIT_COMMIT_BYTES', "largest total of one command's events, bytes of JSON"],
  stateBytes: ['LIMIT_STATE_BYTES', 'largest aggregate state after evolve, bytes of JSON'],
};

const CAMEL = (key: keyof DataLimits) =>
  `limit${key[0]!.toUpperCase()}${key.slice(1)}` as `limit${Capitalize<keyof DataLimits>}`;

/** The setting for one data limit of a service (`<PREFIX>_LIMIT_…`, YAML `limit…`). */
export function dataLimitSetting(prefix: string, key: keyof DataLimits): SettingSpec<number> {
  const [env, doc] = LIMIT_DOCS[key];
  return {
    key: CAMEL(key),
    env: `${prefix}_${env}`,
    parse: parse.integer(1, DATA_LIMIT_CEILINGS[key]),
    default: DEFAULT_DATA_LIMITS[key],
    doc,
  };
}

/** The data limits a service's settings give (the others at their defaults), checked. */
export function dataLimitsOf(
  config: Partial<Record<`limit${Capitalize<keyof DataLimits>}`, number>>,
): DataLimits {
  return resolveDataLimits(
    Object.fromEntries(DATA_LIMIT_KEYS.map((key) => [key, config[CAMEL(key)]])),
  );
}
