import type { NatsConnection } from '@nats-io/transport-node';
import { StreamError } from '@tenantfold/core';

export interface ServerVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** As the server reported it, e.g. `2.9.10`. */
  readonly text: string;
}

/**
 * What the connected server can do, from its version. This package needs
 * only `directGet`; the others are here so that a change that wants them
 * checks the server first (on 2.9 they are silently ignored or broken: an
 * atomic batch is stored partially, a per-message TTL is dropped).
 */
export interface ServerFeatures {
  readonly version: ServerVersion;
  /** `allow_direct` streams and `$JS.API.DIRECT.GET` (2.9). */
  readonly directGet: boolean;
  /** Batch direct get, per-message TTL, `Nats-Expected-Last-Subject-Sequence-Subject` (2.11). */
  readonly v2_11: boolean;
  /** Atomic batch publish (`startBatch`, 2.12). */
  readonly atomicBatch: boolean;
}

/** Oldest nats-server this package runs on (direct get). */
export const MIN_SERVER_VERSION = '2.9.0';

export function parseServerVersion(text: string): ServerVersion {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(text);
  if (match === null) throw new StreamError(`cannot parse the nats-server version '${text}'`);
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]), text };
}

export function atLeast(version: ServerVersion, min: string): boolean {
  const want = parseServerVersion(min);
  if (version.major !== want.major) return version.major > want.major;
  if (version.minor !== want.minor) return version.minor > want.minor;
  return version.patch >= want.patch;
}

export function featuresOf(version: ServerVersion): ServerFeatures {
  return {
    version,
    directGet: atLeast(version, '2.9.0'),
    v2_11: atLeast(version, '2.11.0'),
    atomicBatch: atLeast(version, '2.12.0'),
  };
}

/**
 * The features of the server `nc` is connected to; refuses a server without
 * JetStream or older than {@link MIN_SERVER_VERSION}.
 */
export function requireServer(nc: NatsConnection): ServerFeatures {
  const info = nc.info;
  if (info === undefined) throw new StreamError('not connected to a nats-server');
  const features = featuresOf(parseServerVersion(info.version));
  if (!features.directGet) {
    throw new StreamError(
      `nats-server ${info.version} is too old: tenantfold needs ${MIN_SERVER_VERSION} or newer`,
    );
  }
  if (info.jetstream !== true) {
    throw new StreamError(`nats-server ${info.version} runs without JetStream (start it with -js)`);
  }
  return features;
}
