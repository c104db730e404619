export { readSettings, ConfigError, parse as parseSetting } from './settings.js';
export type { SettingSpec, SettingsSpec, SettingsOf } from './settings.js';
export { loadSettings } from './settingsFile.js';
export { dataLimitSetting, dataLimitsOf } from './dataLimitSettings.js';
