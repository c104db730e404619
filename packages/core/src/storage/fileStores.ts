import { mkdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { JsonValue, StreamKey } from '../domain/index.js';
import { StorageError } from '../errors/index.js';
import { appendLineDurably, writeFileAtomic } from '../files/atomicFile.js';
import { DirLock } from '../files/dirLock.js';
import { SNAPSHOT_FILE, streamDir } from '../files/layout.js';
import { FileEventLog } from '../eventLog/fileEventLog.js';
import type {
  CheckpointStore,
  DeadLetter,
  DeadLetterStore,
  SnapshotStore,
  StorageBackend,
  StoredSnapshot,
} from './types.js';

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StorageError(`cannot read ${path}`, { cause: error });
  }
}

/** Reads a JSON document; an unreadable one is moved aside (kept for inspection) and loads as missing. */
async function readJsonOrSetAside(path: string): Promise<JsonValue | undefined> {
  const text = await readText(path);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    await rename(path, `${path}.corrupt-${Date.now()}`);
    return undefined;
  }
}

export class FileSnapshotStore implements SnapshotStore {
  constructor(private readonly baseDir: string) {}

  async load(key: StreamKey): Promise<StoredSnapshot | undefined> {
    return (await readJsonOrSetAside(this.pathOf(key))) as StoredSnapshot | undefined;
  }

  async save(snapshot: StoredSnapshot): Promise<void> {
    const key = {
      tenant: snapshot.tenant_id,
      type: snapshot.aggregate_type,
      id: snapshot.aggregate_id,
    };
    const current = await this.load(key);
    if (current !== undefined && current.version >= snapshot.version) return;
    await writeFileAtomic(this.pathOf(key), JSON.stringify(snapshot));
  }

  private pathOf(key: StreamKey): string {
    return join(streamDir(this.baseDir, key), SNAPSHOT_FILE);
  }
}

/** Checkpoints as `<base>/<name>/checkpoint.json`. */
export class FileCheckpointStore implements CheckpointStore {
  constructor(private readonly baseDir: string) {}

  load(name: string): Promise<JsonValue | undefined> {
    return readJsonOrSetAside(this.pathOf(name));
  }

  save(name: string, value: JsonValue): Promise<void> {
    return writeFileAtomic(this.pathOf(name), JSON.stringify(value));
  }

  private pathOf(name: string): string {
    return join(this.baseDir, name, 'checkpoint.json');
  }
}

/** Dead letters as `<base>/process_managers/<name>/dead_letters.jsonl`. */
export class FileDeadLetterStore implements DeadLetterStore {
  constructor(private readonly baseDir: string) {}

  async append(processManager: string, letter: DeadLetter): Promise<void> {
    const dir = join(this.baseDir, 'process_managers', processManager);
    await mkdir(dir, { recursive: true });
    await appendLineDurably(join(dir, 'dead_letters.jsonl'), JSON.stringify(letter));
  }

  async list(processManager: string): Promise<DeadLetter[]> {
    const text = await readText(
      join(this.baseDir, 'process_managers', processManager, 'dead_letters.jsonl'),
    );
    if (text === undefined) return [];
    return text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as DeadLetter);
  }
}

/** Opens every store of a local directory under one exclusive lock. */
export async function openFileBackend(baseDir: string): Promise<StorageBackend> {
  const lock = await DirLock.acquire(baseDir);
  const eventLog = new FileEventLog(baseDir);
  return {
    eventLog,
    snapshots: new FileSnapshotStore(baseDir),
    checkpoints: new FileCheckpointStore(baseDir),
    deadLetters: new FileDeadLetterStore(baseDir),
    async close() {
      try {
        await eventLog.close();
      } finally {
        await lock.release(); // a failed close must not leave the directory locked
      }
    },
  };
}
