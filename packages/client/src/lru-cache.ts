/**
 * A size-bounded LRU map: a Map keeps insertion order, so a read re-inserts the key and the first key
 * is always the least recently used. Expiry is the caller's business (entries carry their own times).
 */
export class LruCache<V> {
  readonly #entries = new Map<string, V>();

  constructor(
    readonly maxEntries: number,
    private readonly onEvict: (key: string, value: V) => void = () => undefined,
  ) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }

  set(key: string, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    while (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.entries().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value[0]);
      this.onEvict(oldest.value[0], oldest.value[1]);
    }
  }

  delete(key: string): boolean {
    return this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  peek(key: string): V | undefined {
    return this.#entries.get(key);
  }
}
