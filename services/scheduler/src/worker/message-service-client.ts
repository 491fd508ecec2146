import { AppError, createInternalClient } from "@chat/shared";
import { directConversationsRoute } from "@chat/shared/contracts";

/**
 * The worker's use of the message service: the direct conversations of a batch's pairs, created
 * when missing. A pair the message service refuses (a user that no longer exists: 404, a bad id:
 * 400) comes back as its own, non-retriable error; the service unreachable is retriable.
 */
export function createDirectConversations({ baseUrl, internalToken }: { baseUrl: string | readonly string[]; internalToken: string }) {
  const messageService = createInternalClient({ service: "Message service", baseUrl, internalToken });
  return {
    /**
     * Many pairs in one call: each pair's conversation id, or the error the message service
     * answered for that pair alone (a user that no longer exists: not retriable). Throws when
     * the call itself fails.
     */
    async ensureMany(pairs: Array<[string, string]>): Promise<Array<string | AppError>> {
      const { results } = await messageService.call(directConversationsRoute, { body: { pairs } });
      return results.map((r) => ("error" in r ? new AppError(r.error.code, r.error.message, r.error.retriable ? 503 : 404, r.error.retriable) : r.conversationId));
    },
  };
}

export type DirectConversations = ReturnType<typeof createDirectConversations>;
