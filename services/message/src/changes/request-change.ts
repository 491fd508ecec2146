import { ConflictError, ForbiddenError, NotFoundError, buildChangeRecord, checkContent, type BatchingProducer } from "@chat/shared";
import { memberConversation } from "../conversations/member-conversation.ts";
import type { ConversationStore } from "../store/conversation-store.ts";
import type { MessageStore } from "../store/message-store.ts";

export interface ChangeRequesterDeps {
  conversations: ConversationStore;
  messages: MessageStore;
  producer: BatchingProducer;
  sendTopic: string;
  maxContentLength: number;
}

export type ChangeRequest = { type: "edit"; content: string } | { type: "delete" };

/**
 * Edits and deletes, as asked for over REST or a socket (through a gateway's internal call):
 * the one place that decides who may change what. Only the sender of a message may edit or
 * delete it (in a group too: a group has no moderators here); a deleted message stays deleted.
 * An accepted change goes on `message.send`, behind the conversation's earlier sends, and
 * counts as accepted once Kafka has it from every in-sync replica; the message service
 * applies it from there, checking again.
 */
export function createChangeRequester({ conversations, messages, producer, sendTopic, maxContentLength }: ChangeRequesterDeps) {
  return async function requestChange(conversationId: string, messageId: string, actorId: string, request: ChangeRequest) {
    await memberConversation(conversations, conversationId, actorId);
    if (request.type === "edit") checkContent(request.content, maxContentLength);
    const message = await messages.findMessage(conversationId, messageId);
    if (!message) throw new NotFoundError("Message not found", "MESSAGE_NOT_FOUND");
    if (message.senderId !== actorId) throw new ForbiddenError("Only the sender may change a message", "NOT_THE_SENDER");
    if (message.deletedAt) {
      if (request.type === "delete") return { conversationId, messageId, changeId: null };
      throw new ConflictError("The message was deleted", undefined, "MESSAGE_DELETED");
    }
    const { record, message: kafkaMessage } = buildChangeRecord({ conversationId, messageId, actorId, ...request });
    // Rejects with UNAVAILABLE (503, retriable) when Kafka does not take it in time.
    await producer.send(sendTopic, kafkaMessage);
    return { conversationId, messageId, changeId: record.changeId };
  };
}

export type RequestChange = ReturnType<typeof createChangeRequester>;
