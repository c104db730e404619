export { matches } from './evaluate.js';
export type { FilterTarget } from './evaluate.js';
