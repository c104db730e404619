import { UnavailableError } from '@tenantfold/core';
import type { NodeEngine } from './nodeEngine.js';

/**
 * The node's current engine. There is none while the node starts, and a
 * reload replaces it: every part reads it here, never keeps its own.
 */
export class EngineSlot {
  #engine: NodeEngine | undefined;

  /** @throws UnavailableError while the node is starting */
  get engine(): NodeEngine {
    if (this.#engine === undefined) throw new UnavailableError('the node is starting');
    return this.#engine;
  }

  /** The engine if there is one yet (metrics and commit hooks do without). */
  get loaded(): NodeEngine | undefined {
    return this.#engine;
  }

  replace(engine: NodeEngine): void {
    this.#engine = engine;
  }
}
