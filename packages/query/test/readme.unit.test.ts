import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it, vi } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));

/** The package README's example, exactly as written there. */
async function readmeExample(): Promise<string> {
  const readme = await readFile(join(root, 'packages/query/README.md'), 'utf8');
  const marker = readme.indexOf('<!-- readme-example: query');
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(marker));
  if (marker < 0 || block?.[1] === undefined) throw new Error('README example block not found');
  return block[1];
}

it('the README example runs and prints what its comments say', async () => {
  const dir = join(root, '.tmp', `query-readme-${process.pid}`);
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'query.ts');
  await writeFile(file, await readmeExample());
  const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    await import(file);
    expect(log.mock.calls).toEqual([[[['acc-1', 2]]], [undefined], ['entered']]);
  } finally {
    log.mockRestore();
    await rm(dir, { recursive: true, force: true });
  }
});
