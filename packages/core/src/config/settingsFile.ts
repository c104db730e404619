import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { isJsonObject } from '../domain/index.js';
import type { SettingsOf, SettingsSpec } from './settings.js';
import { ConfigError, readSettings } from './settings.js';

/**
 * A service's settings from env (wins) and an optional YAML file named by
 * `fileEnv` (e.g. `AGGREGATE_CONFIG`) or `file`. Pure apart from reading that file.
 */
export function loadSettings<S extends SettingsSpec>(
  spec: S,
  env: Readonly<Record<string, string | undefined>>,
  source: { readonly fileEnv: string; readonly file?: string },
): SettingsOf<S> {
  const fromEnv = env[source.fileEnv]?.trim();
  const path = source.file ?? (fromEnv === '' ? undefined : fromEnv);
  return readSettings(spec, env, path === undefined ? {} : readSettingsFile(path));
}

function readSettingsFile(path: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError([`config file ${path}: ${(error as Error).message}`]);
  }
  if (parsed === null || parsed === undefined) return {};
  if (!isJsonObject(parsed)) {
    throw new ConfigError([`config file ${path}: expected a mapping of settings`]);
  }
  return parsed;
}
