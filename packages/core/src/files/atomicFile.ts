import { mkdir, open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Makes a directory (and parents) and fsyncs its parent so the entry survives a crash. */
export async function ensureDir(dir: string): Promise<void> {
  const created = await mkdir(dir, { recursive: true });
  if (created !== undefined) await fsyncDir(dirname(dir));
}

export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes a file so readers see the old or the new content, never a mix: tmp, fsync, rename. */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  await ensureDir(dirname(path));
  const tmp = `${path}.${process.pid}.tmp`;
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
  await fsyncDir(dirname(path));
}

/** Appends one line and fsyncs before returning. */
export async function appendLineDurably(path: string, line: string): Promise<void> {
  const handle = await open(path, 'a');
  try {
    await handle.write(`${line}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
