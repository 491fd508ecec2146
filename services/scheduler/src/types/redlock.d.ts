// redlock 5's package.json "exports" points TypeScript at an ESM build without its
// declarations, so under NodeNext resolution it has no types. This declares the part we use.
declare module "redlock" {
  import { EventEmitter } from "node:events";
  import type { Redis } from "ioredis";

  export interface Settings {
    driftFactor: number;
    retryCount: number;
    retryDelay: number;
    retryJitter: number;
    automaticExtensionThreshold: number;
  }

  export interface RedlockAbortSignal extends AbortSignal {
    error?: Error;
  }

  export default class Redlock extends EventEmitter {
    constructor(clients: Iterable<Redis>, settings?: Partial<Settings>);
    /** Acquires the lock, runs `routine` while extending it, then releases it. */
    using<T>(resources: string[], duration: number, routine: (signal: RedlockAbortSignal) => Promise<T>): Promise<T>;
    quit(): Promise<void>;
  }
}
