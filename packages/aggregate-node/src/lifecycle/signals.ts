import type { Logger } from '@tenantfold/core';

/**
 * Runs `shutdown` once on SIGTERM or SIGINT and exits: 0 when it finished
 * before the deadline, 1 when it failed or the deadline passed.
 */
export function onTermination(
  shutdown: () => Promise<void>,
  options: { deadlineMs: number; logger: Logger },
): void {
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    options.logger.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => {
      options.logger.error({ deadlineMs: options.deadlineMs }, 'shutdown deadline passed; exiting');
      process.exit(1);
    }, options.deadlineMs);
    deadline.unref();
    shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        options.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', handle);
  process.once('SIGINT', handle);
}
