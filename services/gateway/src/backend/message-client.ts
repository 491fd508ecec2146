import { DependencyError, INTERNAL_TOKEN_HEADER, NotFoundError } from "@chat/shared";
import type { StoredMessage } from "@chat/shared/contracts";

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

  async function get<T>(path: string): Promise<T> {
    let res: Response;
    try {
      res = await fetch(new URL(path, baseUrl), { headers: { [INTERNAL_TOKEN_HEADER]: internalToken }, signal: AbortSignal.timeout(5000) });
    } catch (err) {
      throw new DependencyError("Message service unavailable", err);
    }
    if (res.status === 404) throw new NotFoundError("Conversation not found", "CONVERSATION_NOT_FOUND");
    if (!res.ok) throw new DependencyError(`Message service answered ${res.status}`);
    return (await res.json()) as T;
  }

  return {
    async participantsOf(conversationId: string): Promise<string[]> {
      const hit = participants.get(conversationId);
      if (hit && Date.now() - hit.at < cacheTtlMs) return hit.ids;
      let pending = loading.get(conversationId);
      if (!pending) {
        pending = get<{ participantIds: string[] }>(`/internal/conversations/${encodeURIComponent(conversationId)}/participants`)
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

    messagesAfter(conversationId: string, afterSeq: number, limit: number): Promise<{ messages: StoredMessage[]; hasMore: boolean }> {
      return get(`/internal/conversations/${encodeURIComponent(conversationId)}/messages?afterSeq=${afterSeq}&limit=${limit}`);
    },

    async contactsOf(userId: string): Promise<string[]> {
      return (await get<{ contactIds: string[] }>(`/internal/users/${encodeURIComponent(userId)}/contacts`)).contactIds;
    },
  };
}

export type MessageClient = ReturnType<typeof createMessageClient>;
