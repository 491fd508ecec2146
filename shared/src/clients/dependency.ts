/** Something `/readyz` asks: resolves when it can do its part right now, rejects saying why not. */
export interface ReadinessCheck {
  /** Shown in `/readyz` output and logs. */
  readonly name: string;
  check(): Promise<void>;
}

/** Something a process needs and can check: what `/readyz` asks and what shutdown closes. */
export interface Dependency extends ReadinessCheck {
  /** Releases connections; safe to call twice. */
  close(): Promise<void>;
}

/** Rejects when `promise` does not settle within `ms`, so a hung dependency cannot hang a probe. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
