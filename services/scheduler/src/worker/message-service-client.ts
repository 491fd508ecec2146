import { createInternalClient } from "@chat/shared";
import { directConversationRoute } from "@chat/shared/contracts";

/**
 * The worker's use of the message service: the direct conversation of a pair, created when
 * missing. A pair the message service refuses (a user that no longer exists: 404, a bad id:
 * 400) comes back as its own, non-retriable error; the service unreachable is retriable.
 */
export function createDirectConversations({ baseUrl, internalToken }: { baseUrl: string; internalToken: string }) {
  const messageService = createInternalClient({ service: "Message service", baseUrl, internalToken });
  return {
    async ensure(senderId: string, recipientId: string): Promise<string> {
      return (await messageService.call(directConversationRoute, { body: { userIds: [senderId, recipientId] } })).conversationId;
    },
  };
}

export type DirectConversations = ReturnType<typeof createDirectConversations>;
