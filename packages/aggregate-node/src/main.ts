#!/usr/bin/env -S node --no-node-snapshot
// tenantfold-node: configuration from AGGREGATE_* env and an optional YAML file (AGGREGATE_CONFIG).
import { ConfigError } from '@tenantfold/core';
import { pino } from 'pino';
import { AggregateNode } from './aggregateNode.js';
import { loadNodeConfig } from './config/nodeConfig.js';
import { onTermination } from './lifecycle/signals.js';

try {
  const config = loadNodeConfig();
  const logger = pino({ level: config.logLevel, base: { node_id: config.nodeId } });
  const node = await AggregateNode.start(config, { logger });
  onTermination(() => node.stop(), { deadlineMs: config.drainTimeoutMs + 5_000, logger });
} catch (error) {
  process.stderr.write(
    error instanceof ConfigError
      ? `tenantfold-node: ${error.message}\n(see the settings table in the README)\n`
      : `tenantfold-node: cannot start: ${(error as Error).stack ?? String(error)}\n`,
  );
  process.exit(2);
}
