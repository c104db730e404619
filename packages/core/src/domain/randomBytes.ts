import { randomFillSync } from 'node:crypto';

// Random bytes are taken from a pool refilled 4 KiB at a time: one
// getRandomValues call per id cost ~a quarter of the client CPU per command.
const POOL_SIZE = 4096;
const pool = new Uint8Array(POOL_SIZE);
let offset = POOL_SIZE;

/** 16 fresh random bytes (a copy, safe to keep). */
export function random16(): Uint8Array {
  if (offset + 16 > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const bytes = pool.slice(offset, offset + 16);
  offset += 16;
  return bytes;
}
