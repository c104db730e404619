export type { AsyncProjection, Projection } from './projection.js';
export { ProjectionRunner } from './projectionRunner.js';
export { catchUpStreams } from './streamCursors.js';
export type { Cursors } from './streamCursors.js';
