import { z } from "zod";

/** A TCP port from env; "0" asks the OS for a free one (tests). */
export const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

export const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** Comma-separated list, blanks dropped. */
export const csv = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v) =>
      v
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string()).min(1, "needs at least one entry"));

/** Comma-separated base URLs of one service's replicas (requests are shared among them). */
export const urls = (fallback: string) => csv(fallback).pipe(z.array(z.string().url()));
