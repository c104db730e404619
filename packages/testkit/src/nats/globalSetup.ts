import type { TestProject } from 'vitest/node';
import type { NatsServer } from './natsServer.js';
import { startNatsServer } from './natsServer.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the one nats-server of this test run. */
    natsUrl: string;
  }
}

/** Which nats-server a run uses: a container when `TENANTFOLD_NATS_IMAGE` names one, else the local binary. */
export async function startTestNats(env: NodeJS.ProcessEnv = process.env): Promise<NatsServer> {
  const image = env.TENANTFOLD_NATS_IMAGE;
  if (image === undefined || image === '') return startNatsServer();
  // Loaded only here: testcontainers is heavy and most runs use the binary.
  const { startNatsContainer } = await import('./natsContainer.js');
  return startNatsContainer({ image });
}

/** vitest globalSetup: one nats-server (JetStream, temp store) for the whole run. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startTestNats();
  project.provide('natsUrl', server.url);
  return () => server.stop();
}
