export { CircuitBreaker, CircuitOpenError } from './circuitBreaker.js';
export type {
  CircuitBreakerOptions,
  CircuitState,
  CircuitStateChange,
  CircuitStateListener,
} from './circuitBreaker.js';
export { isTransportFailure } from './failures.js';
export { guardBackend } from './guardBackend.js';
