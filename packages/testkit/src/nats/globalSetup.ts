import type { TestProject } from 'vitest/node';
import { startNatsServer } from './natsServer.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the one nats-server of this test run. */
    natsUrl: string;
  }
}

/** vitest globalSetup: one nats-server (JetStream, temp store) for the whole run. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startNatsServer();
  project.provide('natsUrl', server.url);
  return () => server.stop();
}
