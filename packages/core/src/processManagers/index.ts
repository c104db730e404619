export type {
  AsyncProcessManager,
  ProcessManager,
  ProcessManagerCommand,
  ProcessManagerReport,
} from './processManager.js';
export {
  ProcessManagerRunner,
  derivedCommandId,
  processManagerEnvelope,
} from './processManagerRunner.js';
export type { Dispatch } from './processManagerRunner.js';
