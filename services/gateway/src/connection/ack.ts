import type { z } from "zod";
import { ValidationError, toErrorBody, type Logger } from "@chat/shared";
import type { Ack } from "@chat/shared/contracts";

/**
 * The one place where a socket event's outcome becomes its acknowledgement: the payload
 * is parsed first, the handler's result becomes `{ ok: true, ... }`, any error becomes
 * `{ ok: false, error: { code, message } }` (unknown errors logged, never leaked).
 *
 * Built once per event name, not per connection: what differs per device comes in `device`.
 */
export function acknowledged<S extends z.ZodTypeAny, R extends object | void, D>(
  schema: S,
  logger: Logger,
  handler: (payload: z.infer<S>, device: D) => Promise<R>,
) {
  return async (payload: unknown, ack: unknown, device: D) => {
    const reply = typeof ack === "function" ? (ack as (a: Ack) => void) : undefined;
    try {
      const parsed = schema.safeParse(payload);
      if (!parsed.success) {
        throw new ValidationError(
          "Invalid payload",
          { fields: parsed.error.issues.map((i) => ({ field: i.path.join(".") || "payload", message: i.message })) },
        );
      }
      const result = await handler(parsed.data, device);
      reply?.({ ok: true, ...(result ?? {}) });
    } catch (err) {
      const { status, body } = toErrorBody(err);
      if (status >= 500) logger.error({ err }, "socket event failed");
      reply?.({ ok: false, error: { code: body.code, message: body.message, ...(body.details ? { details: body.details } : {}) } });
    }
  };
}
