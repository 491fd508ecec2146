import { ForbiddenError, NotFoundError } from "@chat/shared";
import type { ConversationDoc, ConversationStore } from "../store/conversation-store.ts";

/** A conversation only its members may read or write: 404 when there is none, 403 for anyone else. */
export async function memberConversation(conversations: ConversationStore, id: string, userId: string): Promise<ConversationDoc> {
  const conv = await conversations.findById(id);
  if (!conv) throw new NotFoundError("Conversation not found", "CONVERSATION_NOT_FOUND");
  if (!conv.participantIds.includes(userId)) throw new ForbiddenError("Not a member of this conversation", "NOT_A_MEMBER");
  return conv;
}
