import { randomUUID } from "node:crypto";
import type { Message } from "kafkajs";
import { ValidationError } from "../errors.ts";
import {
  messageDeleteSchema,
  messageEditSchema,
  messageSendSchema,
  type MessageDelete,
  type MessageEdit,
  type MessageSend,
} from "../contracts/topics/message-send.ts";
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
    type: "send",
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

export type ChangeInput = { conversationId: string; messageId: string; actorId: string } & ({ type: "edit"; content: string } | { type: "delete" });

/**
 * The one way an edit or a delete enters `message.send` (REST and every socket transport, both
 * through the message service's checks): on the conversation's key, behind its earlier sends.
 */
export function buildChangeRecord(input: ChangeInput): { record: MessageEdit | MessageDelete; message: Message } {
  const base = { v: 1, changeId: randomUUID(), conversationId: input.conversationId, messageId: input.messageId, actorId: input.actorId, requestedAt: new Date().toISOString() };
  const record: MessageEdit | MessageDelete =
    input.type === "edit" ? messageEditSchema.parse({ ...base, type: "edit", content: input.content }) : messageDeleteSchema.parse({ ...base, type: "delete" });
  return {
    record,
    message: {
      key: record.conversationId,
      value: JSON.stringify(record),
      headers: { v: "1", type: record.type, "actor-id": record.actorId, "message-id": record.messageId, "change-id": record.changeId },
    },
  };
}
