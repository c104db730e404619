export type { Commit, StoredCommit, AppendResult, EventLog, StreamFilter } from './types.js';
export { FileEventLog } from './fileEventLog.js';
