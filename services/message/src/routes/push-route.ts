import { Router } from "express";
import { NotFoundError, validate, type DeliveryPublisher } from "@chat/shared";
import { idSchema, z } from "@chat/shared/contracts";
import type { ConversationStore } from "../store/conversation-store.ts";

export const pushRequestSchema = z
  .object({
    target: z.union([
      z.object({ userId: idSchema }).strict(),
      z.object({ conversationId: idSchema }).strict(),
      z.object({ all: z.literal(true) }).strict(),
    ]),
    event: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, "1-64 of letters, digits, '_', '.', ':' and '-'"),
    data: z.unknown(),
  })
  .strict();

/**
 * Server-side push (the original brief's "signal"): a backend holding the internal token
 * sends `push` {event, data} to one user's devices, a conversation's members, or every
 * connected device, on every gateway.
 */
export function createPushRoute({ conversations, delivery }: { conversations: ConversationStore; delivery: DeliveryPublisher }): Router {
  const router = Router();
  router.post("/push", async (req, res) => {
    const { target, event, data } = validate(pushRequestSchema, req.body);
    if ("all" in target) {
      const gateways = await delivery.broadcast({ v: 1, type: "broadcast", event, data });
      res.status(202).json({ target: "all", gateways });
      return;
    }
    let recipients: string[];
    if ("userId" in target) recipients = [target.userId];
    else {
      const conv = await conversations.findById(target.conversationId);
      if (!conv) throw new NotFoundError("Conversation not found", "CONVERSATION_NOT_FOUND");
      recipients = conv.participantIds;
    }
    const records = await delivery.publish(recipients.map((recipientId) => ({ v: 1, type: "push", recipientId, event, data })));
    res.status(202).json({ recipients: recipients.length, records });
  });
  return router;
}
