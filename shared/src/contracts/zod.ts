import { extendZodWithOpenApi } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";

// The contracts describe themselves for OpenAPI; this must run before any schema is built.
extendZodWithOpenApi(z);

export { z };

// Control characters are exactly what these patterns exist to find.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;
// eslint-disable-next-line no-control-regex
const ALL_CONTROL_CHARS = /[\u0000-\u001F\u007F]/;

/** Trimmed text without control characters (newlines allowed only when `multiline`). */
export const cleanText = (min: number, max: number, multiline = false) =>
  z
    .string()
    .trim()
    .min(min)
    .max(max)
    .refine((v) => !(multiline ? CONTROL_CHARS : ALL_CONTROL_CHARS).test(v), "must not contain control characters");

// What zod's datetime check accepts by default (UTC, `Z`, any fraction of a second), as one
// regex built once: zod v3 built its datetime regex again on every parse, which showed in the
// gateways' profile (every delivery event carries two timestamps). The regex also names the
// format in the OpenAPI document.
const ISO_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** An ISO 8601 UTC timestamp, as `Date.prototype.toISOString()` writes it. */
export const isoDateTime = () =>
  z.string().regex(ISO_DATETIME, "must be an ISO 8601 UTC timestamp").openapi({ format: "date-time", example: "2026-11-24T02:00:00.000Z" });

/** Ids are opaque strings we generate (UUIDs); anything else is refused before it reaches a query. */
export const idSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, "must be an id")
  .openapi({ example: "0192f1c2-7d3a-7b4e-9c1d-2a3b4c5d6e7f" });
