export { sqliteQueryEngine, STORE_READ_MODEL_FILE } from './sqliteQueryEngine.js';
export type { SqliteQueryEngineOptions } from './sqliteQueryEngine.js';
export { commitName, latestStates, quarantineIn } from './latestStates.js';
export type { StateSource, UnfoldableState } from './latestStates.js';
export { initialPages, initialSet } from './initialSet.js';
