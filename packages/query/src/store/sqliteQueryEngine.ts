import { join } from 'node:path';
import type {
  JsonValue,
  QueryEngine,
  QueryEngineContext,
  QueryEngineFactory,
  StateChangeNotice,
  StatePage,
  StateQueryOptions,
  StateSubscription,
  StoredCommit,
  StreamKey,
  TenantId,
} from '@tenantfold/core';
import { parseFilter } from '../language/index.js';
import { LiveSet } from '../live/index.js';
import { ReadModel } from '../readModel/index.js';
import { initialSet } from './initialSet.js';
import { latestStates, quarantineIn } from './latestStates.js';

/** The read model's file in a store directory. */
export const STORE_READ_MODEL_FILE = 'read-model.sqlite';

export interface SqliteQueryEngineOptions {
  /** @default `<store dir>/read-model.sqlite`, or `:memory:` for a store on another backend */
  readonly path?: string;
  /** Indexed state paths per aggregate type: `{ account: ['balance', 'status'] }`. */
  readonly indexes?: Readonly<Record<string, readonly string[]>>;
  /** Signs page cursors; random per process when absent. */
  readonly cursorSecret?: string;
}

/**
 * The embedded store's query engine: `AggregateStore.builder(dir)
 * .queryEngine(sqliteQueryEngine({ indexes }))`. A missing or damaged
 * database is rebuilt from the event log at open; an existing one catches up
 * with what was committed after its rows.
 */
export function sqliteQueryEngine(options: SqliteQueryEngineOptions = {}): QueryEngineFactory {
  return async (context) => {
    const path =
      options.path ??
      (context.directory === undefined
        ? ':memory:'
        : join(context.directory, STORE_READ_MODEL_FILE));
    const model = ReadModel.open({
      path,
      ...(options.indexes === undefined ? {} : { indexes: options.indexes }),
      ...(options.cursorSecret === undefined ? {} : { cursorSecret: options.cursorSecret }),
    });
    try {
      await bringUpToDate(model, context);
    } catch (error) {
      model.close();
      throw error;
    }
    return new EmbeddedQueries(model);
  };
}

async function bringUpToDate(model: ReadModel, context: QueryEngineContext): Promise<void> {
  const { opened } = model;
  const unfoldable = quarantineIn(model, context.logger);
  if (opened.needsRebuild) {
    if (opened.status === 'recovered') {
      context.logger.warn(
        { reason: opened.reason, movedTo: opened.movedTo },
        'read model unusable: rebuilding from the event log',
      );
    }
    await model.rebuild(latestStates(context, context.eventLog.streams(), unfoldable));
    return;
  }
  await model.applyAll(latestStates(context, staleStreams(model, context), unfoldable));
}

/** Streams with commits after their row (the last ones before a crash). */
async function* staleStreams(
  model: ReadModel,
  context: QueryEngineContext,
): AsyncGenerator<StreamKey> {
  for await (const key of context.eventLog.streams()) {
    const row = model.get(key.tenant, key.type, key.id);
    for await (const _ of context.eventLog.read(key, row?.position ?? 0)) {
      yield key;
      break;
    }
  }
}

interface Listener {
  readonly live: LiveSet;
  readonly onChange: (change: StateChangeNotice) => void;
}

class EmbeddedQueries implements QueryEngine {
  readonly #listeners = new Map<string, Set<Listener>>();

  constructor(readonly model: ReadModel) {}

  committed(commit: StoredCommit, state: unknown): void {
    const applied = this.model.applyCommit(commit, state as JsonValue);
    if (applied === undefined) return;
    for (const listener of this.#listeners.get(listenerKey(applied.tenant, applied.type)) ?? []) {
      const kind = listener.live.next(applied.after);
      if (kind !== 'none') listener.onChange({ kind, row: applied.after });
    }
  }

  query(tenant: TenantId, type: string, filter: string, options: StateQueryOptions): StatePage {
    const { sort, limit, cursor } = options;
    return this.model.query(tenant, type, { filter, sort, limit, cursor });
  }

  subscribe(
    tenant: TenantId,
    type: string,
    filter: string,
    onChange: (change: StateChangeNotice) => void,
  ): StateSubscription {
    const parsed = parseFilter(filter);
    // Apply and notify run synchronously in this process: nothing can slip
    // between the initial read and the registration, so position 0 is exact.
    const { rows } = initialSet(this.model, tenant, type, parsed);
    const listener: Listener = { live: new LiveSet(parsed, 0), onChange };
    listener.live.seed(rows);
    const key = listenerKey(tenant, type);
    const listeners = this.#listeners.get(key) ?? new Set<Listener>();
    listeners.add(listener);
    this.#listeners.set(key, listeners);
    return {
      initial: rows,
      close: () => {
        listeners.delete(listener);
        if (listeners.size === 0) this.#listeners.delete(key);
      },
    };
  }

  close(): void {
    this.#listeners.clear();
    this.model.close();
  }
}

function listenerKey(tenant: string, type: string): string {
  return `${tenant}\u0000${type}`;
}
