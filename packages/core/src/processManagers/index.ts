export type {
  ProcessManager,
  ProcessManagerCommand,
  ProcessManagerReport,
} from './processManager.js';
export { ProcessManagerRunner, derivedCommandId } from './processManagerRunner.js';
export type { Dispatch } from './processManagerRunner.js';
