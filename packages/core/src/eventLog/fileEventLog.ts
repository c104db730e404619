import { createReadStream } from 'node:fs';
import { readdir, readFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { StreamKey } from '../domain/index.js';
import { AggregateId, AggregateType, StreamKey as Key, TenantId } from '../domain/index.js';
import { StorageError, ValidationError, VersionConflictError } from '../errors/index.js';
import { appendLineDurably, ensureDir } from '../files/atomicFile.js';
import { KeyedMutex } from '../files/keyedMutex.js';
import { COMMITS_FILE, streamDir, tenantRoot } from '../files/layout.js';
import type { AppendResult, Commit, EventLog, StoredCommit, StreamFilter } from './types.js';

interface StreamState {
  lastPosition: number;
}

/**
 * Event log on local files: one append-only JSONL file per stream, one line per
 * commit, fsynced before `append` returns. Position = aggregate version.
 *
 * Not safe for two processes: the store holds a directory lock (`DirLock`).
 */
export class FileEventLog implements EventLog {
  private readonly streamStates = new Map<string, StreamState>();
  private readonly mutex = new KeyedMutex();

  constructor(private readonly baseDir: string) {}

  async append(commit: Commit, expectedPosition: number): Promise<AppendResult> {
    if (commit.events.length === 0)
      throw new ValidationError('a commit needs at least one event', 'events');
    const key = commit.stream;
    return this.mutex.run(Key.toString(key), async () => {
      const state = await this.load(key);
      if (state.lastPosition !== expectedPosition) {
        throw new VersionConflictError(expectedPosition, state.lastPosition);
      }
      if (commit.version !== expectedPosition + commit.events.length) {
        throw new ValidationError(
          `commit version ${commit.version} does not follow ${expectedPosition} with ${commit.events.length} events`,
          'version',
        );
      }
      const stored: StoredCommit = { ...commit, position: commit.version };
      const dir = streamDir(this.baseDir, key);
      await ensureDir(dir);
      await appendLineDurably(join(dir, COMMITS_FILE), JSON.stringify(stored)).catch(
        (cause: unknown) => {
          throw new StorageError(`append to ${Key.toString(key)} failed`, { cause });
        },
      );
      state.lastPosition = stored.position;
      return { commit: stored, duplicate: false };
    });
  }

  async *read(key: StreamKey, afterPosition = 0): AsyncIterable<StoredCommit> {
    const state = await this.mutex.run(Key.toString(key), () => this.load(key));
    if (state.lastPosition <= afterPosition) return;
    const lines = createInterface({
      input: createReadStream(this.fileOf(key)),
      crlfDelay: Infinity,
    });
    for await (const line of lines) {
      if (line === '') continue;
      const commit = JSON.parse(line) as StoredCommit;
      if (commit.position > state.lastPosition) break; // appended after this read began
      if (commit.position > afterPosition) yield commit;
    }
  }

  async readAt(key: StreamKey, position: number): Promise<StoredCommit | undefined> {
    for await (const commit of this.read(key, position - 1)) {
      return commit.position === position ? commit : undefined;
    }
    return undefined;
  }

  async *streams(filter: StreamFilter = {}): AsyncIterable<StreamKey> {
    for (const tenant of await this.tenants(filter.tenant)) {
      const root = join(tenantRoot(this.baseDir, tenant), 'streams');
      const types = filter.types ?? (await listDirs(root)).map((t) => AggregateType.parse(t));
      for (const type of types) {
        for (const id of await listDirs(join(root, type))) {
          const key = { tenant, type, id: AggregateId.parse(id) };
          if ((await this.load(key)).lastPosition > 0) yield key;
        }
      }
    }
  }

  close(): Promise<void> {
    this.streamStates.clear();
    return Promise.resolve();
  }

  private async tenants(only: TenantId | undefined): Promise<TenantId[]> {
    if (only !== undefined) return [only];
    const named = await listDirs(join(this.baseDir, 'tenants'));
    return [TenantId.DEFAULT, ...named.map((t) => TenantId.parse(t))];
  }

  private fileOf(key: StreamKey): string {
    return join(streamDir(this.baseDir, key), COMMITS_FILE);
  }

  /** Reads a stream once: finds its last position and cuts a torn last line. */
  private async load(key: StreamKey): Promise<StreamState> {
    const name = Key.toString(key);
    const known = this.streamStates.get(name);
    if (known !== undefined) return known;
    const file = this.fileOf(key);
    const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return '';
      throw new StorageError(`cannot read ${file}`, { cause: error });
    });
    let lastPosition = 0;
    let goodBytes = 0;
    const lines = text.split('\n');
    const torn = lines.pop() ?? ''; // text after the last newline: a write cut short
    for (const [index, line] of lines.entries()) {
      try {
        lastPosition = (JSON.parse(line) as StoredCommit).position;
      } catch (cause) {
        throw new StorageError(`${file} line ${index + 1} is corrupt`, { cause });
      }
      goodBytes += Buffer.byteLength(line) + 1;
    }
    if (torn !== '') {
      await truncate(file, goodBytes);
    }
    const state = { lastPosition };
    this.streamStates.set(name, state);
    return state;
  }
}

async function listDirs(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
