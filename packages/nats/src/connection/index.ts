export { connectNats } from './connectNats.js';
export type { NatsSettings, ConnectNatsOptions } from './connectNats.js';
