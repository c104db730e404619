import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A nats-server with JetStream on a free loopback port, with its own store dir. */
export interface NatsServer {
  readonly url: string;
  /** The server's process id (benchmarks read its CPU time from /proc); absent in a container. */
  readonly pid?: number;
  readonly port: number;
  readonly storeDir: string;
  stop(): Promise<void>;
}

export interface NatsServerOptions {
  /** @default 'nats-server' from PATH */
  readonly binary?: string;
  /** Reuse a store dir (a restart keeps the data). @default a new temp dir */
  readonly storeDir?: string;
  /** Reuse a port (a restart keeps the URL). @default a free port */
  readonly port?: number;
  /** How long to wait for the port to accept connections. @default 10_000 ms */
  readonly startTimeoutMs?: number;
  /** More command-line arguments, e.g. `['--auth', token]`. @default [] */
  readonly args?: readonly string[];
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts the local nats-server binary (Debian's package; `npm run setup` installs it). */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const port = options.port ?? (await freePort());
  const ownsStore = options.storeDir === undefined;
  const storeDir = options.storeDir ?? (await mkdtemp(join(tmpdir(), 'tenantfold-nats-')));
  const child: ChildProcess = spawn(
    options.binary ?? 'nats-server',
    ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir, ...(options.args ?? [])],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (error) =>
      reject(new Error(`cannot start nats-server (run \`npm run setup\`): ${error.message}`)),
    ),
  );
  const deadline = Date.now() + (options.startTimeoutMs ?? 10_000);
  const ready = (async () => {
    while (!(await accepts(port))) {
      if (child.exitCode !== null)
        throw new Error(`nats-server exited with ${child.exitCode}: ${stderr}`);
      if (Date.now() > deadline)
        throw new Error(`nats-server did not listen on ${port}: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  await Promise.race([ready, spawnError]);
  return {
    url: `nats://127.0.0.1:${port}`,
    ...(child.pid === undefined ? {} : { pid: child.pid }),
    port,
    storeDir,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      if (ownsStore) await rm(storeDir, { recursive: true, force: true });
    },
  };
}
