/** A Map that forgets its least recently used entry beyond `capacity`. */
export class Lru<K, V> {
  readonly #map = new Map<K, V>();
  constructor(readonly capacity: number) {}

  getOrCreate(key: K, create: (key: K) => V): V {
    const found = this.#map.get(key);
    if (found !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, found);
      return found;
    }
    const value = create(key);
    this.#map.set(key, value);
    if (this.#map.size > this.capacity) this.#map.delete(this.#map.keys().next().value as K);
    return value;
  }
}
