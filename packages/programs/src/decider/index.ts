export { ProgramDecider } from './programDecider.js';
export type { ProgramDeciderOptions } from './programDecider.js';
