/**
 * Estimated bytes of V8 heap a value holds (measured on Node 20, 64-bit).
 * JSON bytes are no measure of memory: `{}` is 3 bytes of text and ~64 of
 * heap, so a 1 MiB state of empty objects holds ~22 MiB once parsed. Budgets
 * over parsed values (live actors, rebuild batches, commit tails) count this.
 */
const OBJECT = 64;
/** An array's header and its backing store's. */
const ARRAY = 48;
const SLOT = 8;
const STRING = 16;
const HEAP_NUMBER = 16;
/**
 * A key name met for the first time: objects that share their keys share a
 * hidden class, but every new key costs one of its own (map, descriptors,
 * the key string): ~150 bytes measured for objects of one unique key.
 */
const NEW_KEY = 160;
/**
 * Keys met in an order not seen before: V8 builds a hidden class per key
 * order (objects of the same names in shuffled orders each get one; a second
 * hostile review measured ~15× their JSON where names alone counted 2.6×).
 */
const NEW_ORDER = 100;
const NEW_ORDER_PER_KEY = 96;
/** Past this many keys an object is a dictionary: each entry holds key, value and details. */
const DICTIONARY_KEYS = 128;
const DICTIONARY_ENTRY = 32;
/** Visits after which a value is taken to be circular (JSON never is; a TypeScript state may be). */
const MAX_VISITS = 10_000_000;

/**
 * An upper estimate of the heap `value` holds: per object and array its
 * header and a slot per entry, per string its header and characters, per
 * non-integer number a box, per distinct key name what V8 keeps for it.
 * Calibrated on Node 20 against shapes a tenant could send: empty objects
 * and arrays, objects of unique keys, deep nesting (each within ~1×–2× of
 * the measured heap, never under). Iterative (no depth can exhaust the
 * stack), one visit per value, like the `JSON.parse` that made it. A
 * circular value counts as `Infinity`.
 */
export function heapFootprint(value: unknown): number {
  if (typeof value !== 'object' || value === null) return primitiveBytes(value);
  let bytes = 0;
  let visits = 0;
  let top = 0;
  let high = 0;
  const names = new Set<string>();
  const orders = new Set<string>();
  pending[top++] = value;
  while (top > 0) {
    const v = pending[--top]!;
    if (Array.isArray(v)) {
      visits += v.length + 1;
      bytes += ARRAY + SLOT * v.length;
      for (let i = 0; i < v.length; i++) {
        const item: unknown = v[i];
        if (typeof item === 'object') {
          if (item !== null) pending[top++] = item;
        } else bytes += primitiveBytes(item);
      }
    } else {
      const keys = Object.keys(v);
      visits += keys.length + 1;
      bytes += OBJECT + 2 * SLOT * keys.length;
      if (keys.length > DICTIONARY_KEYS) bytes += DICTIONARY_ENTRY * keys.length;
      else if (keys.length > 0) {
        const order = keys.join('\u0000');
        if (!orders.has(order)) {
          orders.add(order);
          bytes += NEW_ORDER + NEW_ORDER_PER_KEY * keys.length;
        }
      }
      for (const key of keys) {
        if (!names.has(key)) {
          names.add(key);
          bytes += NEW_KEY + key.length;
        }
        const item: unknown = (v as Record<string, unknown>)[key];
        if (typeof item === 'object') {
          if (item !== null) pending[top++] = item;
        } else bytes += primitiveBytes(item);
      }
    }
    if (top > high) high = top;
    if (visits > MAX_VISITS) {
      bytes = Infinity;
      break;
    }
  }
  release(high);
  return bytes;
}

/**
 * The containers still to visit, kept between calls: a fresh array that
 * grows to 100,000 entries costs more than the walk itself.
 */
const pending: object[] = [];
const KEEP_PENDING = 1 << 20;

/** Lets go of what the walk held (the values must not outlive it here). */
function release(high: number): void {
  if (high > KEEP_PENDING) pending.length = 0;
  else pending.fill(undefined as unknown as object, 0, high);
}

function primitiveBytes(value: unknown): number {
  if (typeof value === 'string') return STRING + value.length;
  return typeof value === 'number' && !Number.isInteger(value) ? HEAP_NUMBER : 0;
}
