// placementctl in the test's own process, pointed at a test cluster.
import { jetstreamManager } from '@nats-io/jetstream';
import type { CapturedRun } from '@tenantfold/placement-controller/testing';
import { runCaptured } from '@tenantfold/placement-controller/testing';
import type { TestCluster } from './cluster.js';
import { ADMIN_TOKEN } from './cluster.js';

/** placementctl in this process, on the cluster's stream, subjects and bucket. */
export function placementctl(cluster: TestCluster, ...argv: string[]): Promise<CapturedRun> {
  return runCaptured(argv, {
    PLACEMENTCTL_NATS_URL: cluster.options.natsUrl,
    PLACEMENTCTL_STREAM: cluster.names.storage.streamName,
    PLACEMENTCTL_SUBJECT_PREFIX: cluster.names.storage.subjectPrefix,
    PLACEMENTCTL_PLACEMENT_BUCKET: cluster.names.placementBucket,
    PLACEMENTCTL_ADMIN_TOKEN: ADMIN_TOKEN,
  });
}

/** Deletes placementctl's own bucket beside the cluster's placement bucket (frozen pins). */
export async function removePlacementctlBucket(cluster: TestCluster): Promise<void> {
  const jsm = await jetstreamManager(cluster.nc);
  await jsm.streams.delete(`KV_${cluster.names.placementBucket}_FROZEN`).catch(() => undefined);
}
