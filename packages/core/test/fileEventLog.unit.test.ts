import { spawn } from 'node:child_process';
import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StreamKey } from '@tenantfold/core';
import {
  AggregateStore,
  FileEventLog,
  openFileBackend,
  StorageError,
  StreamKey as Key,
  VersionConflictError,
} from '@tenantfold/core';
import { commitOf, Counter, CounterTotals } from '@tenantfold/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tenantfold-filelog-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const key = Key.of('', 'counter', 'c-1');
const commitsFile = () => join(dir, 'streams', 'counter', 'c-1', 'commits.jsonl');

async function positions(log: FileEventLog, stream: StreamKey): Promise<number[]> {
  const out: number[] = [];
  for await (const commit of log.read(stream)) out.push(commit.position);
  return out;
}

describe('file event log', () => {
  it('lays out streams under <base>/streams/<type>/<id>/ and tenants under <base>/tenants/', async () => {
    const log = new FileEventLog(dir);
    await log.append(commitOf(key, 1), 0);
    await log.append(commitOf(Key.of('acme', 'counter', 'c-1'), 1), 0);
    expect(await readFile(commitsFile(), 'utf8')).toContain('"command_id"');
    expect(
      await readFile(
        join(dir, 'tenants', 'acme', 'streams', 'counter', 'c-1', 'commits.jsonl'),
        'utf8',
      ),
    ).toContain('"acme"');
  });

  it('checks the expected position on append', async () => {
    const log = new FileEventLog(dir);
    await log.append(commitOf(key, 2, { count: 2 }), 0);
    await expect(log.append(commitOf(key, 3), 0)).rejects.toMatchObject(
      new VersionConflictError(0, 2),
    );
    await log.append(commitOf(key, 3), 2);
    expect(await positions(log, key)).toEqual([2, 3]);
    expect((await log.readAt(key, 2))?.events).toHaveLength(2);
    expect(await log.readAt(key, 1)).toBeUndefined();
  });

  it('cuts a torn last line on open and keeps the complete commits', async () => {
    const log = new FileEventLog(dir);
    await log.append(commitOf(key, 1), 0);
    await log.append(commitOf(key, 3, { count: 2 }), 1);
    const intact = await readFile(commitsFile(), 'utf8');
    const half = JSON.stringify({ ...commitOf(key, 4), position: 4 }).slice(0, 80);
    await appendFile(commitsFile(), half); // a crash in the middle of writing a commit

    const reopened = new FileEventLog(dir);
    expect(await positions(reopened, key)).toEqual([1, 3]);
    expect(await readFile(commitsFile(), 'utf8')).toBe(intact);
    await reopened.append(commitOf(key, 4), 3);
    expect(await positions(reopened, key)).toEqual([1, 3, 4]);
  });

  it('refuses a stream with a corrupt line in the middle instead of guessing', async () => {
    const log = new FileEventLog(dir);
    await log.append(commitOf(key, 1), 0);
    await log.append(commitOf(key, 2), 1);
    const [first, second] = (await readFile(commitsFile(), 'utf8')).split('\n');
    await writeFile(commitsFile(), `${first}\n{garbage\n${second}\n`);
    await expect(positions(new FileEventLog(dir), key)).rejects.toThrow(StorageError);
  });

  it('lists streams by type and tenant', async () => {
    const log = new FileEventLog(dir);
    await log.append(commitOf(key, 1), 0);
    await log.append(commitOf(Key.of('acme', 'counter', 'c-2'), 1), 0);
    await log.append(commitOf(Key.of('acme', 'order', 'o-1'), 1), 0);
    const list = async (filter?: Parameters<FileEventLog['streams']>[0]) => {
      const out: string[] = [];
      for await (const s of log.streams(filter)) out.push(Key.toString(s));
      return out;
    };
    expect(await list()).toEqual(['=default.counter.c-1', 'acme.counter.c-2', 'acme.order.o-1']);
    expect(await list({ tenant: Key.of('acme', 'x', 'y').tenant })).toEqual([
      'acme.counter.c-2',
      'acme.order.o-1',
    ]);
    expect(await list({ types: [key.type] })).toEqual(['=default.counter.c-1', 'acme.counter.c-2']);
  });
});

describe('store directory lock', () => {
  it('refuses a second open in the same process', async () => {
    const backend = await openFileBackend(dir);
    await expect(openFileBackend(dir)).rejects.toThrow(/already open in this process/);
    await backend.close();
    await (await openFileBackend(dir)).close();
  });

  it('refuses a second process with a clear error, and takes over after it dies', async () => {
    const holder = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--conditions=source',
        fileURLToPath(new URL('./fixtures/holdStore.ts', import.meta.url)),
        dir,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout.once('data', () => resolve());
        holder.once('exit', (code) => reject(new Error(`holder exited early with ${code}`)));
      });
      await expect(openFileBackend(dir)).rejects.toThrow(
        new RegExp(`open in process ${holder.pid}`),
      );
    } finally {
      holder.kill('SIGKILL');
      await new Promise((resolve) => holder.once('exit', resolve));
    }
    // The holder died without releasing: its lock is stale and taken over.
    const backend = await openFileBackend(dir);
    await backend.close();
  });
});

describe('projection checkpoints', () => {
  it('rebuilds from the log when the checkpoint is corrupt', async () => {
    let store = await AggregateStore.builder(dir)
      .aggregate(Counter)
      .projection(CounterTotals)
      .open();
    await store.get(Counter, 'c-1').execute({ type: 'Add', data: { n: 3 } });
    expect(await store.projection(CounterTotals)).toEqual({ '': 3 });
    await store.close();
    await writeFile(
      join(dir, 'projections', 'counter-totals', 'checkpoint.json'),
      '{"cursors": {"=default.cou',
    );
    store = await AggregateStore.builder(dir).aggregate(Counter).projection(CounterTotals).open();
    expect(await store.projection(CounterTotals)).toEqual({ '': 3 });
    await store.close();
    const kept = await readdir(join(dir, 'projections', 'counter-totals'));
    expect(kept.some((name) => name.startsWith('checkpoint.json.corrupt-'))).toBe(true);
  });
});

describe('snapshot failures', () => {
  it('do not fail a command whose commit was written', async () => {
    const backend = await openFileBackend(dir);
    const failing = {
      ...backend,
      snapshots: {
        load: backend.snapshots.load.bind(backend.snapshots),
        save: () => Promise.reject(new StorageError('disk full')),
      },
    };
    // A fault (disk full) that cannot be made for real here: only the snapshot write fails.
    const store = await AggregateStore.builder(failing)
      .aggregate(Counter)
      .with({ snapshotEvery: 1 })
      .open();
    const result = await store.get(Counter, 'c-snap-fail').execute({ type: 'Add', data: { n: 2 } });
    expect(result.version).toBe(1);
    expect(await positions(backend.eventLog as FileEventLog, key)).toEqual([]);
    expect(
      await positions(backend.eventLog as FileEventLog, Key.of('', 'counter', 'c-snap-fail')),
    ).toEqual([1]);
    await store.close().catch(() => undefined); // close flushes a snapshot, which fails again
    await backend.close();
  });
});
