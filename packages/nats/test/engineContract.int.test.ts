import { describeEngineContract } from '@tenantfold/testkit';
import { backendFixture } from './fixture.js';

// The engine's whole contract, unchanged, on a real nats-server.
describeEngineContract('JetStream', () => Promise.resolve(backendFixture()));
