export * from './errors/index.js';
export * from './domain/index.js';
export * from './eventLog/index.js';
export * from './storage/index.js';
export * from './engine/index.js';
export * from './projections/index.js';
export * from './processManagers/index.js';
export * from './config/index.js';
