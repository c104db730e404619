export {
  JetStreamDeadLetterStore,
  DEAD_LETTER_STORE_DEFAULTS,
} from './jetStreamDeadLetterStore.js';
export type { JetStreamDeadLetterStoreOptions } from './jetStreamDeadLetterStore.js';
