import { jetstreamManager, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { TenantId } from '@tenantfold/core';
import { NotFoundError, UnavailableError } from '@tenantfold/core';
import type { Placement } from '@tenantfold/nats';
import { CommitSubjects, connectNats, PlacementStore } from '@tenantfold/nats';
import type { ControllerConfig } from '../config/settings.js';
import { FrozenPins } from './frozenPins.js';

/** What the controller reads and writes: the placement bucket and the commit stream's subjects. */
export interface Cluster {
  readonly nc: NatsConnection;
  readonly placement: PlacementStore;
  /** Pins the controller wrote to hold tenants still (`nodes add`); `rebalance` moves them. */
  readonly frozen: FrozenPins;
  /** The whole placement (`placement.load()`). */
  loadPlacement(this: void): Promise<Placement>;
  /** Tenants that have aggregates in the commit stream, with their aggregate counts. */
  tenantsInStorage(): Promise<Map<TenantId, number>>;
  close(): Promise<void>;
}

export type ClusterSettings = Pick<
  ControllerConfig,
  'natsServers' | 'placementBucket' | 'streamName' | 'subjectPrefix' | 'requestTimeoutMs'
>;

/** Connects to NATS; with `create: false` (the default) a missing bucket is a `NotFoundError`. */
export async function connectCluster(
  settings: ClusterSettings,
  options: {
    readonly create?: boolean;
    readonly replicas?: number;
    readonly nc?: NatsConnection;
  } = {},
): Promise<Cluster> {
  const owned = options.nc === undefined;
  const nc = options.nc ?? (await connectTo(settings));
  try {
    const placement = await openPlacement(nc, settings, options);
    const frozen = await FrozenPins.open(nc, settings.placementBucket, options.replicas ?? 1);
    return {
      nc,
      placement,
      frozen,
      loadPlacement: () => placement.load(),
      tenantsInStorage: () => tenantsInStorage(nc, settings),
      async close() {
        if (owned) await nc.close();
      },
    };
  } catch (error) {
    if (owned) await nc.close();
    throw error;
  }
}

async function connectTo(settings: ClusterSettings): Promise<NatsConnection> {
  try {
    return await connectNats(settings, {
      name: 'placementctl',
      timeoutMs: settings.requestTimeoutMs,
    });
  } catch (error) {
    throw new UnavailableError(
      `cannot connect to NATS at ${settings.natsServers.join(', ')}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

async function openPlacement(
  nc: NatsConnection,
  settings: ClusterSettings,
  options: { readonly create?: boolean; readonly replicas?: number },
): Promise<PlacementStore> {
  try {
    return await PlacementStore.open(nc, {
      bucket: settings.placementBucket,
      create: options.create ?? false,
      replicas: options.replicas ?? 1,
    });
  } catch (error) {
    if (error instanceof NotFoundError) {
      throw new NotFoundError(`${error.message}: run \`placementctl init\` first`, {
        cause: error,
      });
    }
    throw error;
  }
}

/** Reads subject counts only (no stream is created or changed here). */
async function tenantsInStorage(
  nc: NatsConnection,
  settings: ClusterSettings,
): Promise<Map<TenantId, number>> {
  const subjects = new CommitSubjects(settings.subjectPrefix);
  const jsm = await jetstreamManager(nc, { timeout: settings.requestTimeoutMs });
  let counts: Record<string, number>;
  try {
    const info = await jsm.streams.info(settings.streamName, { subjects_filter: subjects.all });
    counts = info.state.subjects ?? {};
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) {
      throw new NotFoundError(
        `stream '${settings.streamName}' does not exist: run \`placementctl init\` first`,
        { cause: error },
      );
    }
    throw error;
  }
  const tenants = new Map<TenantId, number>();
  for (const [subject, messages] of Object.entries(counts)) {
    if (messages === 0) continue;
    const { tenant } = subjects.parse(subject);
    tenants.set(tenant, (tenants.get(tenant) ?? 0) + 1);
  }
  return tenants;
}
