import { GenericContainer, Wait } from 'testcontainers';
import type { NatsServer } from './natsServer.js';
import { freePort } from './natsServer.js';

export interface NatsContainerOptions {
  /** A local nats-server image whose entrypoint is the server (docker/build-nats-image.sh builds one). */
  readonly image: string;
  /** @default a free port */
  readonly port?: number;
}

/**
 * nats-server with JetStream in a container, through testcontainers. Only
 * loopback traffic is allowed on these machines, so the container shares the
 * host network and binds 127.0.0.1 on a free port.
 */
export async function startNatsContainer(options: NatsContainerOptions): Promise<NatsServer> {
  // Ryuk needs a pulled image and the bridge network; neither exists offline.
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
  process.env.TESTCONTAINERS_HOST_OVERRIDE ??= '127.0.0.1';
  const port = options.port ?? (await freePort());
  const storeDir = '/tmp/jetstream';
  const container = await new GenericContainer(options.image)
    .withNetworkMode('host')
    .withCommand(['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir])
    .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
    .withStartupTimeout(30_000)
    .start();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    async stop() {
      await container.stop({ remove: true, removeVolumes: true });
    },
  };
}
