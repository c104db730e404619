import { parseSetting } from '@tenantfold/core';
import { InvalidArgumentError } from 'commander';
import { MigrationMetrics } from '../../migration/metrics.js';
import { ControllerService } from '../../service/controllerService.js';
import type { CommandSet } from '../commandSet.js';

function listenAddress(raw: string): { host: string; port: number } {
  try {
    return parseSetting.listenAddress(raw);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** `serve`: the controller service, until SIGTERM or SIGINT. */
export function serveCommand({ program, context, run }: CommandSet): void {
  program
    .command('serve')
    .description(
      'run the controller: mark nodes with a silent heartbeat down, settle abandoned migrations, serve /health and /metrics',
    )
    .option(
      '--listen <host:port>',
      'address of /health and /metrics (PLACEMENTCTL_LISTEN)',
      listenAddress,
    )
    .addHelpText(
      'after',
      '\nExample:\n  PLACEMENTCTL_HEARTBEAT_TIMEOUT_MS=5000 PLACEMENTCTL_LOG_LEVEL=info placementctl serve --listen 127.0.0.1:9464',
    )
    .action(
      run(async (options: { listen?: { host: string; port: number } }) => {
        const config = context.config();
        const metrics = new MigrationMetrics();
        const cluster = await context.cluster();
        const service = new ControllerService({
          placement: cluster.placement,
          migrator: await context.migrator(metrics),
          metrics,
          logger: context.logger(),
          heartbeatTimeoutMs: config.heartbeatTimeoutMs,
          listen: options.listen ?? config.listen,
        });
        await service.start();
        context.io.err(
          `placementctl serving /health and /metrics on ${(options.listen ?? config.listen).host}:${service.port}\n`,
        );
        await new Promise<void>((resolve) => {
          process.once('SIGTERM', resolve);
          process.once('SIGINT', resolve);
        });
        await service.stop();
      }),
    );
}
