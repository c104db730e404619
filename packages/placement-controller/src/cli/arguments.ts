import { InvalidArgumentError } from 'commander';
import { checkNodeId } from '@tenantfold/nats';

/** A commander argument parser for an integer in [min, max]. */
export function parseInteger(name: string, min: number, max: number) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        `${name} must be an integer from ${min} to ${max}, got '${raw}'`,
      );
    }
    return n;
  };
}

/** A commander argument parser for a node id. */
export function parseNodeId(raw: string): string {
  try {
    return checkNodeId(raw, 'node');
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** Collects a repeatable `key=value` option into a map. */
export function collectPairs(name: string) {
  return (raw: string, previous: Map<string, string> = new Map()): Map<string, string> => {
    const at = raw.indexOf('=');
    if (at <= 0 || at === raw.length - 1) {
      throw new InvalidArgumentError(`${name} must be key=value, got '${raw}'`);
    }
    return new Map(previous).set(raw.slice(0, at), raw.slice(at + 1));
  };
}
