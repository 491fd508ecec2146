import { createInternalClient } from "@chat/shared";
import { contactsRoute, internalHistoryRoute, messageChangeRoute, participantsRoute, type z } from "@chat/shared/contracts";

export interface MessageClientOptions {
  baseUrl: string;
  internalToken: string;
  /** How long a conversation's participant list is kept; membership is fixed at creation. @default 300000 */
  cacheTtlMs?: number;
  /** Cached conversations at most. @default 50000 */
  cacheMax?: number;
}

/**
 * The gateway's view of the message service's internal API, with the participant lists
 * cached so `send_message` and `typing` cost no round trip after the first.
 */
export function createMessageClient({ baseUrl, internalToken, cacheTtlMs = 300_000, cacheMax = 50_000 }: MessageClientOptions) {
  const participants = new Map<string, { ids: string[]; at: number }>();
  // Concurrent misses for one conversation share one request.
  const loading = new Map<string, Promise<string[]>>();

  const messageService = createInternalClient({ service: "Message service", baseUrl, internalToken });

  return {
    async participantsOf(conversationId: string): Promise<string[]> {
      const hit = participants.get(conversationId);
      if (hit && Date.now() - hit.at < cacheTtlMs) return hit.ids;
      let pending = loading.get(conversationId);
      if (!pending) {
        pending = messageService
          .call(participantsRoute, { params: { id: conversationId } })
          .then((body) => {
            if (participants.size >= cacheMax) participants.delete(participants.keys().next().value!);
            participants.set(conversationId, { ids: body.participantIds, at: Date.now() });
            return body.participantIds;
          })
          .finally(() => loading.delete(conversationId));
        loading.set(conversationId, pending);
      }
      return pending;
    },

    messagesAfter(conversationId: string, afterSeq: number, limit: number): Promise<z.output<typeof internalHistoryRoute.response>> {
      return messageService.call(internalHistoryRoute, { params: { id: conversationId }, query: { afterSeq, limit } });
    },

    /** An edit or delete, checked and put on Kafka by the message service. */
    changeMessage(conversationId: string, messageId: string, body: z.input<typeof messageChangeRoute.body>): Promise<z.output<typeof messageChangeRoute.response>> {
      return messageService.call(messageChangeRoute, { params: { id: conversationId, messageId }, body });
    },

    async contactsOf(userId: string): Promise<string[]> {
      return (await messageService.call(contactsRoute, { params: { id: userId } })).contactIds;
    },
  };
}

export type MessageClient = ReturnType<typeof createMessageClient>;
