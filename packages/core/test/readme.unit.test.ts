import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it, vi } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));

/** The README's embedded example, exactly as written there. */
async function readmeExample(): Promise<string> {
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  const marker = readme.indexOf('<!-- readme-example: embedded');
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(marker));
  if (marker < 0 || block?.[1] === undefined) throw new Error('README example block not found');
  return block[1];
}

it('the README embedded example runs and prints what its comments say', async () => {
  const dir = join(root, '.tmp', `readme-${process.pid}`);
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'embedded.ts');
  await writeFile(file, await readmeExample());
  const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    await import(file);
    expect(log.mock.calls).toEqual([
      [1, 'Placed'],
      [{ dispatched: 1, deadLettered: 0 }],
      [{ reserved: 2 }],
    ]);
  } finally {
    log.mockRestore();
    await rm(dir, { recursive: true, force: true });
  }
});
