export interface BatchLoaderOptions<V> {
  /** Answers many keys in one request; a key left out of the answer is `missing`. */
  loadMany(keys: string[]): Promise<Map<string, V>>;
  /** The error for a key the answer left out. */
  missing(key: string): Error;
  /** Keys in one request at most. */
  maxBatch: number;
  /** Requests in flight at most; keys asked for meanwhile wait for the next one. @default 2 */
  inFlight?: number;
}

interface Waiting<V> {
  resolve(value: V): void;
  reject(err: unknown): void;
}

/**
 * Turns many lookups of one key each into few requests of many keys: every key asked for in
 * one turn of the event loop, or while the previous requests are in flight, goes in one request.
 * A key already on its way is asked for once however many callers wait for it. A failed request
 * fails every key it named.
 */
export function createBatchLoader<V>({ loadMany, missing, maxBatch, inFlight: maxInFlight = 2 }: BatchLoaderOptions<V>) {
  // Every key not answered yet.
  const loading = new Map<string, Promise<V>>();
  // Keys not asked for yet.
  const queued = new Map<string, Waiting<V>>();
  let inFlight = 0;
  let scheduled = false;

  function schedule(): void {
    if (scheduled || inFlight >= maxInFlight || queued.size === 0) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      void send();
    });
  }

  async function send(): Promise<void> {
    const batch = [...queued].slice(0, maxBatch);
    for (const [key] of batch) queued.delete(key);
    inFlight++;
    schedule();
    try {
      const answers = await loadMany(batch.map(([key]) => key));
      for (const [key, waiting] of batch) {
        if (answers.has(key)) waiting.resolve(answers.get(key)!);
        else waiting.reject(missing(key));
      }
    } catch (err) {
      for (const [, waiting] of batch) waiting.reject(err);
    } finally {
      for (const [key] of batch) loading.delete(key);
      inFlight--;
      schedule();
    }
  }

  return {
    load(key: string): Promise<V> {
      let pending = loading.get(key);
      if (!pending) {
        pending = new Promise<V>((resolve, reject) => queued.set(key, { resolve, reject }));
        loading.set(key, pending);
        schedule();
      }
      return pending;
    },
  };
}
