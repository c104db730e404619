export type { Decider, AnyDecider, StateOf, CommandOf, Awaitable } from './decider.js';
export type { Logger } from './logger.js';
export { silentLogger } from './logger.js';
export type { CommandResult, AggregateSnapshot } from './actor.js';
export { AggregateActor } from './actor.js';
export { ActorRegistry } from './actorRegistry.js';
export type { ActorRegistryOptions } from './actorRegistry.js';
export { AggregateStore, AggregateStoreBuilder } from './aggregateStore.js';
export type { AggregateHandle, GetOptions } from './aggregateStore.js';
export { DEFAULT_STORE_OPTIONS } from './storeOptions.js';
export type { AggregateStoreOptions, ActorSettings, CommitObserver } from './storeOptions.js';
export { parseStateRecord } from './queryEngine.js';
export type {
  QueryEngine,
  QueryEngineContext,
  QueryEngineFactory,
  StateRecord,
  StateQueryOptions,
  StatePage,
  StateChangeKind,
  StateChangeNotice,
  StateSubscription,
} from './queryEngine.js';
