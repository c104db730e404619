import type { Command } from 'commander';
import type { Logger } from '@tenantfold/core';
import { pino } from 'pino';
import { NodeAdminClient } from '../admin/nodeAdminClient.js';
import type { Cluster } from '../cluster/cluster.js';
import { connectCluster } from '../cluster/cluster.js';
import type { ControllerConfig } from '../config/settings.js';
import { loadControllerConfig } from '../config/settings.js';
import { MigrationMetrics } from '../migration/metrics.js';
import { Migrator } from '../migration/migrator.js';
import type { CliIo } from './output.js';

/** Global flags; each overrides its PLACEMENTCTL_* variable. */
interface GlobalFlags {
  readonly nats?: string;
  readonly bucket?: string;
  readonly stream?: string;
  readonly subjectPrefix?: string;
  readonly json?: boolean;
}

const FLAG_ENV: ReadonlyArray<readonly [keyof GlobalFlags, string]> = [
  ['nats', 'PLACEMENTCTL_NATS_URL'],
  ['bucket', 'PLACEMENTCTL_PLACEMENT_BUCKET'],
  ['stream', 'PLACEMENTCTL_STREAM'],
  ['subjectPrefix', 'PLACEMENTCTL_SUBJECT_PREFIX'],
];

/** One run of placementctl: settings, the NATS connection (opened on first use), output. */
export class CliContext {
  #config: ControllerConfig | undefined;
  #cluster: Promise<Cluster> | undefined;
  #logger: Logger | undefined;

  constructor(
    readonly io: CliIo,
    private readonly program: Command,
  ) {}

  get json(): boolean {
    return this.program.opts<GlobalFlags>().json === true;
  }

  /** Settings from env, with the global flags on top; validated once (ConfigError names each bad one). */
  config(): ControllerConfig {
    if (this.#config !== undefined) return this.#config;
    const flags = this.program.opts<GlobalFlags>();
    const env: Record<string, string | undefined> = { ...this.io.env };
    for (const [flag, variable] of FLAG_ENV) {
      const value = flags[flag];
      if (typeof value === 'string') env[variable] = value;
    }
    this.#config = loadControllerConfig(env);
    return this.#config;
  }

  /** The cluster connection; a missing placement bucket is NOT_FOUND (run init). */
  cluster(): Promise<Cluster> {
    this.#cluster ??= connectCluster(this.config());
    return this.#cluster;
  }

  logger(): Logger {
    this.#logger ??= pino(
      { level: this.config().logLevel, base: { app: 'placementctl' } },
      pino.destination(2),
    );
    return this.#logger;
  }

  async migrator(metrics?: MigrationMetrics): Promise<Migrator> {
    const config = this.config();
    const cluster = await this.cluster();
    return new Migrator({
      placement: cluster.placement,
      admin: new NodeAdminClient(config.adminToken),
      logger: this.logger(),
      metrics: metrics ?? new MigrationMetrics(),
      timeouts: {
        warmMs: config.warmTimeoutMs,
        drainMs: config.drainTimeoutMs,
        verifyMs: config.verifyTimeoutMs,
        notifyMs: config.requestTimeoutMs,
      },
    });
  }

  /** Prints `data` as JSON with --json, else the human text. */
  print(data: unknown, human: () => string): void {
    this.io.out(this.json ? `${JSON.stringify(data, null, 2)}\n` : human());
  }

  async close(): Promise<void> {
    const cluster = this.#cluster;
    this.#cluster = undefined;
    if (cluster !== undefined) await (await cluster.catch(() => undefined))?.close();
  }
}
