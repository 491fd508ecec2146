import type { z } from "zod";
import { AppError, DependencyError } from "../errors.ts";
import { INTERNAL_TOKEN_HEADER } from "../http/require-internal.ts";
import type { InternalRoute } from "../contracts/internal/route.ts";
import { createReplicas } from "./replicas.ts";

export interface InternalClientOptions {
  /** Names the callee in errors, e.g. "Auth service". */
  service: string;
  /** The callee's base URL, or its replicas' (shared in turn, refusing ones skipped: `replicas.ts`). */
  baseUrl: string | readonly string[];
  internalToken: string;
  /** Per call. @default 5000 */
  timeoutMs?: number;
}

type Input<B, Q> = (B extends z.ZodTypeAny ? { body: z.input<B> } : { body?: undefined }) &
  (Q extends z.ZodTypeAny ? { query?: z.input<Q> } : { query?: undefined }) & { params?: Record<string, string> };

/**
 * The one way a service calls another's `/internal` routes: the internal token, a timeout, the
 * route's contract (shared/src/contracts/internal/), and the callee's answer turned into what it
 * means here. A refusal (4xx) comes back as the callee's own error (code, message, status, not
 * retriable); the callee unreachable, failing (5xx) or answering outside its contract is a
 * retriable DependencyError.
 */
export function createInternalClient({ service, baseUrl, internalToken, timeoutMs = 5000 }: InternalClientOptions) {
  const replicas = createReplicas(typeof baseUrl === "string" ? [baseUrl] : baseUrl);
  return {
    async call<B extends z.ZodTypeAny | undefined, Q extends z.ZodTypeAny | undefined, R extends z.ZodTypeAny>(
      route: InternalRoute<B, Q, R>,
      input: Input<B, Q> = {} as Input<B, Q>,
    ): Promise<z.output<R>> {
      const path = route.path.replace(/:(\w+)/g, (_, name: string) => {
        const value = input.params?.[name];
        if (value === undefined) throw new Error(`${route.path}: missing parameter ${name}`);
        return encodeURIComponent(value);
      });
      const query = new URLSearchParams();
      for (const [k, v] of Object.entries((input.query ?? {}) as Record<string, unknown>)) {
        if (v !== undefined) query.set(k, String(v));
      }
      const target = query.size > 0 ? `${path}?${query}` : path;
      const init: RequestInit = {
        method: route.method,
        headers: { [INTERNAL_TOKEN_HEADER]: internalToken, ...(input.body !== undefined ? { "content-type": "application/json" } : {}) },
        body: input.body !== undefined ? JSON.stringify(input.body) : undefined,
      };
      let res: Response;
      try {
        res = await replicas.request((base) => fetch(new URL(target, base), { ...init, signal: AbortSignal.timeout(timeoutMs) }));
      } catch (err) {
        throw new DependencyError(`${service} unavailable`, err);
      }
      const text = await res.text();
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      if (res.status >= 400 && res.status < 500) {
        const error = (json as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
        if (typeof error?.code === "string" && typeof error.message === "string") {
          throw new AppError(error.code, error.message, res.status, res.status === 429, { details: error.details });
        }
        throw new DependencyError(`${service} refused ${route.method} ${route.path} with ${res.status}`);
      }
      if (!res.ok) throw new DependencyError(`${service} answered ${res.status}`);
      const parsed = route.response.safeParse(json);
      if (!parsed.success) throw new DependencyError(`${service} answered ${route.method} ${route.path} outside its contract`);
      return parsed.data as z.output<R>;
    },
  };
}

export type InternalClient = ReturnType<typeof createInternalClient>;
