import { createInternalClient, NotFoundError } from "@chat/shared";
import { contactsRoute, internalHistoryRoute, messageChangeRoute, PARTICIPANTS_BATCH_MAX, participantsRoute, type z } from "@chat/shared/contracts";

export interface MessageClientOptions {
  baseUrl: string;
  internalToken: string;
  /** How long a conversation's participant list is kept; membership is fixed at creation. @default 300000 */
  cacheTtlMs?: number;
  /** Cached conversations at most. @default 50000 */
  cacheMax?: number;
  /** Participant requests in flight at most; misses meanwhile wait for the next one. @default 2 */
  lookupsInFlight?: number;
}

interface Waiting {
  resolve(ids: string[]): void;
  reject(err: unknown): void;
}

/**
 * The gateway's view of the message service's internal API, with the participant lists
 * cached so `send_message` and `typing` cost no round trip after the first.
 *
 * Misses are looked up together: every conversation missed in one turn of the event loop, or
 * while the previous requests are in flight, goes in one request. After a start or a reconnect
 * storm every conversation misses at once; one request each used to queue hundreds of them on
 * one message service for longer than the caller's timeout (docs/benchmarks.md, "A stack just
 * started").
 */
export function createMessageClient({ baseUrl, internalToken, cacheTtlMs = 300_000, cacheMax = 50_000, lookupsInFlight = 2 }: MessageClientOptions) {
  const participants = new Map<string, { ids: string[]; at: number }>();
  // Every miss not answered yet, each once however many callers wait for it.
  const loading = new Map<string, Promise<string[]>>();
  // Misses not asked for yet.
  const queued = new Map<string, Waiting>();
  let inFlight = 0;
  let scheduled = false;

  const messageService = createInternalClient({ service: "Message service", baseUrl, internalToken });

  function schedule(): void {
    if (scheduled || inFlight >= lookupsInFlight || queued.size === 0) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      void lookUpQueued();
    });
  }

  async function lookUpQueued(): Promise<void> {
    const batch = [...queued].slice(0, PARTICIPANTS_BATCH_MAX);
    for (const [id] of batch) queued.delete(id);
    inFlight++;
    schedule();
    try {
      const body = await messageService.call(participantsRoute, { body: { conversationIds: batch.map(([id]) => id) } });
      const found = new Map(body.conversations.map((c) => [c.conversationId, c.participantIds]));
      for (const [id, waiting] of batch) {
        const ids = found.get(id);
        if (!ids) {
          waiting.reject(new NotFoundError("Conversation not found", "CONVERSATION_NOT_FOUND"));
          continue;
        }
        if (participants.size >= cacheMax) participants.delete(participants.keys().next().value!);
        participants.set(id, { ids, at: Date.now() });
        waiting.resolve(ids);
      }
    } catch (err) {
      for (const [, waiting] of batch) waiting.reject(err);
    } finally {
      for (const [id] of batch) loading.delete(id);
      inFlight--;
      schedule();
    }
  }

  return {
    participantsOf(conversationId: string): Promise<string[]> {
      const hit = participants.get(conversationId);
      if (hit && Date.now() - hit.at < cacheTtlMs) return Promise.resolve(hit.ids);
      let pending = loading.get(conversationId);
      if (!pending) {
        pending = new Promise<string[]>((resolve, reject) => queued.set(conversationId, { resolve, reject }));
        loading.set(conversationId, pending);
        schedule();
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
