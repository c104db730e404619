export { JetStreamEventLog, EVENT_LOG_DEFAULTS } from './jetStreamEventLog.js';
export type { JetStreamEventLogOptions } from './jetStreamEventLog.js';
export { CommitSubjects } from './subjects.js';
