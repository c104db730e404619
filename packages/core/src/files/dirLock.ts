import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { StorageError } from '../errors/index.js';
import { ensureDir } from './atomicFile.js';

const heldInThisProcess = new Set<string>();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * An exclusive lock on a store directory: a `LOCK` file holding the owner's
 * pid. A second opener (another process, or this one) gets a clear error; a
 * lock left by a dead process is taken over.
 */
export class DirLock {
  private constructor(private readonly path: string) {}

  static async acquire(dir: string): Promise<DirLock> {
    await ensureDir(dir);
    const path = join(dir, 'LOCK');
    if (heldInThisProcess.has(path)) {
      throw new StorageError(`store ${dir} is already open in this process; close it first`);
    }
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await open(path, 'wx');
        await handle.writeFile(String(process.pid));
        await handle.close();
        heldInThisProcess.add(path);
        return new DirLock(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const owner = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
        if (Number.isInteger(owner) && owner !== process.pid && isAlive(owner)) {
          throw new StorageError(`store ${dir} is open in process ${owner}; one writer per store`);
        }
        await rm(path, { force: true }); // stale: its owner is gone
      }
    }
    throw new StorageError(`could not lock store ${dir}`);
  }

  async release(): Promise<void> {
    heldInThisProcess.delete(this.path);
    await rm(this.path, { force: true });
  }
}
