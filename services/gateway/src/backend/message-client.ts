import { createInternalClient, DependencyError, NotFoundError } from "@chat/shared";
import { createBatchLoader } from "./batch-loader.ts";
import { contactsRoute, internalHistoryRoute, messageChangeRoute, CONTACTS_BATCH_MAX, idSchema, PARTICIPANTS_BATCH_MAX, participantsRoute, type z } from "@chat/shared/contracts";

export interface MessageClientOptions {
  baseUrl: string | readonly string[];
  internalToken: string;
  /** How long a conversation's participant list is kept; membership is fixed at creation. @default 300000 */
  cacheTtlMs?: number;
  /** Cached conversations at most. @default 50000 */
  cacheMax?: number;
  /** Participant (and contact) requests in flight at most; lookups meanwhile wait for the next one. @default 2 */
  lookupsInFlight?: number;
}

/**
 * The gateway's view of the message service's internal API, with the participant lists
 * cached so `send_message` and `typing` cost no round trip after the first.
 *
 * Participants and contacts are looked up many at a time (`batch-loader.ts`). After a start or
 * a reconnect storm every conversation misses the cache and every user announces presence at
 * once; one request each used to queue hundreds of them on one message service for longer
 * than the caller's timeout (docs/benchmarks.md, "Those refusals are gone").
 */
export function createMessageClient({ baseUrl, internalToken, cacheTtlMs = 300_000, cacheMax = 50_000, lookupsInFlight = 2 }: MessageClientOptions) {
  const participants = new Map<string, { ids: string[]; at: number }>();
  const messageService = createInternalClient({ service: "Message service", baseUrl, internalToken });

  const participantsLoader = createBatchLoader<string[]>({
    maxBatch: PARTICIPANTS_BATCH_MAX,
    inFlight: lookupsInFlight,
    missing: () => new NotFoundError("Conversation not found", "CONVERSATION_NOT_FOUND"),
    async loadMany(conversationIds) {
      const body = await messageService.call(participantsRoute, { body: { conversationIds } });
      const now = Date.now();
      for (const c of body.conversations) {
        if (participants.size >= cacheMax) participants.delete(participants.keys().next().value!);
        participants.set(c.conversationId, { ids: c.participantIds, at: now });
      }
      return new Map(body.conversations.map((c) => [c.conversationId, c.participantIds]));
    },
  });

  const contactsLoader = createBatchLoader<string[]>({
    maxBatch: CONTACTS_BATCH_MAX,
    inFlight: lookupsInFlight,
    missing: (userId) => new DependencyError(`Message service left ${userId} out of its contacts answer`),
    async loadMany(userIds) {
      const body = await messageService.call(contactsRoute, { body: { userIds } });
      return new Map(body.users.map((u) => [u.userId, u.contactIds]));
    },
  });

  return {
    participantsOf(conversationId: string): Promise<string[]> {
      const hit = participants.get(conversationId);
      if (hit && Date.now() - hit.at < cacheTtlMs) return Promise.resolve(hit.ids);
      // No conversation has such an id; asked for, it would fail the whole request it joined.
      if (!idSchema.safeParse(conversationId).success) return Promise.reject(new NotFoundError("Conversation not found", "CONVERSATION_NOT_FOUND"));
      return participantsLoader.load(conversationId);
    },

    /** Everyone who shares a conversation with this user; not cached (conversations are created all the time). */
    contactsOf(userId: string): Promise<string[]> {
      return contactsLoader.load(userId);
    },

    messagesAfter(conversationId: string, afterSeq: number, limit: number): Promise<z.output<typeof internalHistoryRoute.response>> {
      return messageService.call(internalHistoryRoute, { params: { id: conversationId }, query: { afterSeq, limit } });
    },

    /** An edit or delete, checked and put on Kafka by the message service. */
    changeMessage(conversationId: string, messageId: string, body: z.input<typeof messageChangeRoute.body>): Promise<z.output<typeof messageChangeRoute.response>> {
      return messageService.call(messageChangeRoute, { params: { id: conversationId, messageId }, body });
    },
  };
}

export type MessageClient = ReturnType<typeof createMessageClient>;
