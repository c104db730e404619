export {
  NatsApiCode,
  translateNatsError,
  natsCall,
  storeFailure,
  isWrongLastSequence,
  isStreamNotFound,
  isStreamNameInUse,
} from './natsErrors.js';
export type { FailedStore, FailureContext } from './natsErrors.js';
