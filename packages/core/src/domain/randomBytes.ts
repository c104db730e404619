import { v7 as uuidv7 } from 'uuid';
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

// UUID v7 stays time-ordered within one millisecond by a counter (RFC 9562
// method 1, as the uuid package does internally); passing our own random bytes
// to `v7` bypasses its counter, so it is kept here.
const v7State = { msecs: -Infinity, seq: 0 };

/** A UUID v7 string: time-ordered in this process, random bits from the pool. */
export function newUuidV7(): string {
  const random = random16();
  const now = Date.now();
  if (now > v7State.msecs) {
    v7State.msecs = now;
    v7State.seq = ((random[6]! & 0x7f) << 24) | (random[7]! << 16) | (random[8]! << 8) | random[9]!;
  } else {
    v7State.seq = (v7State.seq + 1) | 0;
    if (v7State.seq === 0) v7State.msecs++;
  }
  return uuidv7({ random, msecs: v7State.msecs, seq: v7State.seq });
}
