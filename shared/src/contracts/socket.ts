import { idSchema, z } from "./zod.ts";
import { clientMsgIdSchema } from "./http/conversations.ts";
import type { MessageDeleted, MessageEdited, StoredMessage } from "./topics/message-delivered.ts";
import type { ErrorBody } from "../errors.ts";

/** Client -> server payloads; every one is parsed with these before anything else runs. */
export const socketPayloadSchemas = {
  join_room: z.object({ conversationId: idSchema }).strict(),
  leave_room: z.object({ conversationId: idSchema }).strict(),
  send_message: z.object({ conversationId: idSchema, content: z.string(), clientMsgId: clientMsgIdSchema }).strict(),
  /** Sender only; acked once Kafka has the edit, like `send_message`. */
  edit_message: z.object({ conversationId: idSchema, messageId: idSchema, content: z.string() }).strict(),
  /** Sender only; the message becomes a tombstone. Deleting a deleted message is acked without a change. */
  delete_message: z.object({ conversationId: idSchema, messageId: idSchema }).strict(),
  typing: z.object({ conversationId: idSchema, isTyping: z.boolean() }).strict(),
  mark_read: z.object({ conversationId: idSchema, seq: z.number().int().min(0) }).strict(),
  /** Resume after a reconnect: the last seq the client has seen per conversation. */
  resume: z.object({ conversations: z.record(idSchema, z.number().int().min(0)) }).strict(),
} as const;

export type ClientEventName = keyof typeof socketPayloadSchemas;
export type ClientPayload<E extends ClientEventName> = z.infer<(typeof socketPayloadSchemas)[E]>;

export type Ack<T extends object = object> = { ok: true } & T | { ok: false; error: ErrorBody };
export type AckCallback<T extends object = object> = (ack: Ack<T>) => void;

export interface ClientToServerEvents {
  join_room(payload: ClientPayload<"join_room">, ack: AckCallback): void;
  leave_room(payload: ClientPayload<"leave_room">, ack: AckCallback): void;
  send_message(payload: ClientPayload<"send_message">, ack: AckCallback<{ messageId: string }>): void;
  edit_message(payload: ClientPayload<"edit_message">, ack: AckCallback<{ messageId: string; changeId: string }>): void;
  delete_message(payload: ClientPayload<"delete_message">, ack: AckCallback<{ messageId: string; changeId: string | null }>): void;
  typing(payload: ClientPayload<"typing">, ack: AckCallback): void;
  mark_read(payload: ClientPayload<"mark_read">, ack: AckCallback): void;
  resume(payload: ClientPayload<"resume">, ack: AckCallback<ResumeResult>): void;
}

export interface ResumeResult {
  replayed: number;
  /** Conversations with more missed messages than one resume replays: page them with REST `afterSeq`. */
  truncated: string[];
  error?: { code: string; message: string };
}

export interface ServerToClientEvents {
  /** After a handshake resume (`auth.resume`): the replay is complete. */
  resumed(payload: ResumeResult): void;
  message_received(payload: { message: StoredMessage }): void;
  /** A message's new content; `seq` is the edit's own place in the conversation (count it as seen). */
  message_edited(payload: MessageEdited): void;
  /** A message taken back; `seq` is the delete's own place in the conversation. */
  message_deleted(payload: MessageDeleted): void;
  user_online(payload: { userId: string }): void;
  user_offline(payload: { userId: string }): void;
  typing(payload: { conversationId: string; userId: string; isTyping: boolean }): void;
  message_read(payload: { conversationId: string; userId: string; seq: number }): void;
  /** Server-side push from a backend (`/internal/push`). */
  push(payload: { event: string; data: unknown }): void;
}
