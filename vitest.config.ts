import { defineConfig } from 'vitest/config';

const resolve = { conditions: ['source', 'node', 'import', 'default'] };

export default defineConfig({
  resolve,
  ssr: { resolve: { conditions: resolve.conditions, externalConditions: ['source'] } },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.unit.test.ts', 'test/**/*.unit.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'int',
          include: ['packages/*/test/**/*.int.test.ts'],
          globalSetup: ['packages/testkit/src/nats/globalSetup.ts'],
        },
      },
      {
        // Whole clusters on loopback (nats-server, nodes, routers, controller).
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/**/*.e2e.test.ts'],
          globalSetup: ['packages/testkit/src/nats/globalSetup.ts'],
        },
      },
    ],
    // isolated-vm needs this on Node 20+ (its README): isolates can crash without it.
    execArgv: ['--no-node-snapshot'],
    reporters: ['default', 'json'],
    outputFile: { json: '.tmp/vitest-results.json' },
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
