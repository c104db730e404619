#!/usr/bin/env node
// tenantfold-router: configuration from ROUTER_* env and an optional YAML file (ROUTER_CONFIG).
import { ConfigError } from '@tenantfold/core';
import { pino } from 'pino';
import { loadRouterConfig, ROUTER_SETTINGS } from './config/routerConfig.js';
import { GatewayRouter } from './gatewayRouter.js';

function usage(): string {
  const rows = Object.values(ROUTER_SETTINGS).map((s) => {
    const shown = 'default' in s ? JSON.stringify(s.default) : '(required)';
    return `  ${s.env.padEnd(32)} ${s.doc}; default ${shown}`;
  });
  return [
    'usage: tenantfold-router',
    '',
    'Tenant-aware gRPC and HTTP ingress: forwards each call to the node that owns its tenant.',
    'Settings come from the environment (wins) or a YAML file named by ROUTER_CONFIG',
    '(keys as in parentheses of the README table). Blank values count as unset.',
    '',
    ...rows,
    '',
  ].join('\n');
}

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(usage());
  process.exit(0);
}

try {
  const config = loadRouterConfig();
  const logger = pino({ level: config.logLevel, base: { service: 'router' } });
  const router = await GatewayRouter.start(config, { logger });
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    setTimeout(() => process.exit(1), config.forwardTimeoutMs + 5_000).unref();
    router.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
} catch (error) {
  process.stderr.write(
    error instanceof ConfigError
      ? `tenantfold-router: ${error.message}\n(run tenantfold-router --help for the settings)\n`
      : `tenantfold-router: cannot start: ${(error as Error).message}\n`,
  );
  process.exit(2);
}
