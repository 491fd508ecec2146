import type { Message } from "kafkajs";
import { ValidationError } from "../errors.ts";
import { messageSendSchema, type MessageSend } from "../contracts/topics/message-send.ts";
import { messageIdFor } from "./message-id.ts";

export interface SendInput {
  senderId: string;
  conversationId: string;
  content: string;
  clientMsgId: string;
  kind: "user" | "auto";
}

/** Refuses empty, whitespace-only and oversize content with a field-level 400. */
export function checkContent(content: string, maxLength: number): void {
  if (content.trim().length === 0) throw new ValidationError("Invalid message", { fields: [{ field: "content", message: "must not be empty" }] });
  if (content.length > maxLength) {
    throw new ValidationError("Invalid message", { fields: [{ field: "content", message: `must be at most ${maxLength} characters` }] });
  }
}

/**
 * The one way a chat message enters `message.send` (gateway sockets, REST, AutoMessage
 * worker): keyed by conversation for per-conversation order, with the deterministic id.
 */
export function buildSendRecord(input: SendInput): { record: MessageSend; message: Message } {
  const record: MessageSend = messageSendSchema.parse({
    v: 1,
    messageId: messageIdFor(input.senderId, input.clientMsgId),
    clientMsgId: input.clientMsgId,
    conversationId: input.conversationId,
    senderId: input.senderId,
    content: input.content,
    kind: input.kind,
    sentAt: new Date().toISOString(),
  });
  return {
    record,
    message: {
      key: record.conversationId,
      value: JSON.stringify(record),
      headers: { v: "1", kind: record.kind, "sender-id": record.senderId, "message-id": record.messageId },
    },
  };
}
