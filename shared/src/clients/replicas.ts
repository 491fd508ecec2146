/** `fetch` failed because nothing listens there: no byte of the request reached the callee. */
export function isConnectionRefused(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === "ECONNREFUSED") return true;
    // Several addresses tried (localhost: ::1 and 127.0.0.1): refused when every one refused.
    const errors = (e as { errors?: unknown }).errors;
    if (Array.isArray(errors) && errors.length > 0 && errors.every(isConnectionRefused)) return true;
  }
  return false;
}

/** `fetch` gave up waiting (`AbortSignal.timeout`). */
const isTimeout = (err: unknown): boolean => (err as { name?: unknown } | undefined)?.name === "TimeoutError";

export interface ReplicasOptions {
  /** How long a replica that refused a connection or let a request time out is passed over. @default 2000 */
  restMs?: number;
}

/**
 * One service's replicas, by base URL (a config list such as MESSAGE_URL). Each request goes to
 * the next replica in turn, so they share the work. A replica that refused a connection or let a
 * request time out is passed over for `restMs`, then tried again (a restarted process is back in
 * the rotation within that). A request whose connection was refused is made again on the next
 * replica: nothing reached the refusing one, so this is safe for any method. A request that
 * failed once it was sent is not repeated here (it may have been applied): the caller sees the
 * error, as it would with one replica.
 */
export function createReplicas(baseUrls: readonly string[], { restMs = 2000 }: ReplicasOptions = {}) {
  if (baseUrls.length === 0) throw new Error("createReplicas: no base URL");
  const restingUntil = baseUrls.map(() => 0);
  let next = 0;

  /** The replicas to try, in order: from the next in turn, the resting ones last. */
  function order(): number[] {
    const now = Date.now();
    const start = next;
    next = (next + 1) % baseUrls.length;
    const ready: number[] = [];
    const resting: number[] = [];
    for (let k = 0; k < baseUrls.length; k++) {
      const i = (start + k) % baseUrls.length;
      (restingUntil[i]! <= now ? ready : resting).push(i);
    }
    return ready.concat(resting);
  }

  return {
    /** Runs `attempt` against a replica's base URL, and against the next while connections are refused. */
    async request<T>(attempt: (baseUrl: string) => Promise<T>): Promise<T> {
      let refused: unknown;
      for (const i of order()) {
        try {
          return await attempt(baseUrls[i]!);
        } catch (err) {
          const wasRefused = isConnectionRefused(err);
          if (wasRefused || isTimeout(err)) restingUntil[i] = Date.now() + restMs;
          if (!wasRefused) throw err;
          refused = err;
        }
      }
      throw refused;
    },
  };
}

export type Replicas = ReturnType<typeof createReplicas>;
