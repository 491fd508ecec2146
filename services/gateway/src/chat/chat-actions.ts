import {
  ForbiddenError,
  backoffDelay,
  isAppError,
  sleep,
  RateLimitedError,
  buildSendRecord,
  checkContent,
  type BatchingProducer,
  type DeliveryPublisher,
} from "@chat/shared";
import { pageSequence, type ClientPayload, type MessageRead } from "@chat/shared/contracts";
import type { MessageClient } from "../backend/message-client.ts";
import { deliverEntry, showEntry, type ChatSession, type SequenceEntry } from "../connection/sessions.ts";
import { TokenBucket } from "../connection/token-bucket.ts";
import { createTypingTracker } from "./typing-tracker.ts";

function releaseHeld(session: ChatSession, conversationId: string): void {
  const held = session.holds.get(conversationId);
  if (!held) return;
  session.holds.delete(conversationId);
  for (const entry of held.sort((a, b) => a.seq - b.seq)) deliverEntry(session, entry);
}

/** The message service's largest history page. */
const HISTORY_PAGE = 200;

export interface ChatActionsDeps {
  messages: MessageClient;
  producer: BatchingProducer;
  delivery: DeliveryPublisher;
  sendTopic: string;
  readTopic: string;
  maxContentLength: number;
  typingPerSecond: number;
  typingTtlMs: number;
  resumeMaxPerConversation: number;
  /** How long a resume retries its reads before it fails. */
  resumeRetryMs: number;
  /** Called once per message acknowledged to its sender. */
  onMessageSent?: () => void;
}

const isRetriable = (err: unknown) => isAppError(err) && err.retriable;

/** Runs `read` until it succeeds, a non-retriable error, or `deadline` (epoch ms) would pass. */
async function readUntil<T>(deadline: number, read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (err) {
      const delayMs = backoffDelay(attempt, 200, 2000);
      if (!isRetriable(err) || Date.now() + delayMs > deadline) throw err;
      await sleep(delayMs);
    }
  }
}

/**
 * What a connected device can do, independent of its transport. Each action returns the
 * extra fields of its `{ ok: true }` ack or throws an AppError for the `{ ok: false }` one.
 */
export function createChatActions(deps: ChatActionsDeps) {
  const { messages, producer, delivery } = deps;
  const typingBuckets = new Map<string, TokenBucket>();

  async function requireMember(session: ChatSession, conversationId: string): Promise<string[]> {
    const participants = await messages.participantsOf(conversationId);
    if (!participants.includes(session.userId)) throw new ForbiddenError("Not a member of this conversation", "NOT_A_MEMBER");
    return participants;
  }

  /** Resolves once Kafka has the record, or fails with UNAVAILABLE within the producer's bound. */
  const produce = (topic: string, message: Parameters<BatchingProducer["send"]>[1]): Promise<void> => producer.send(topic, message);

  async function signalTyping(userId: string, conversationId: string, isTyping: boolean, participants: string[]) {
    await delivery.publish(
      participants.filter((p) => p !== userId).map((recipientId) => ({ v: 1, type: "typing", recipientId, conversationId, userId, isTyping })),
    );
  }

  const typing = createTypingTracker(deps.typingTtlMs, (userId, conversationId) => {
    void messages
      .participantsOf(conversationId)
      .then((participants) => signalTyping(userId, conversationId, false, participants))
      .catch(() => undefined);
  });

  return {
    async join_room(session: ChatSession, { conversationId }: ClientPayload<"join_room">) {
      await requireMember(session, conversationId);
      session.rooms.add(conversationId);
      return {};
    },

    async leave_room(session: ChatSession, { conversationId }: ClientPayload<"leave_room">) {
      session.rooms.delete(conversationId);
      return {};
    },

    /**
     * Acked once Kafka has the message from all in-sync replicas; the id is deterministic.
     * Checks and hand-over to the producer run in the device's order, so a burst from one
     * device is stored in the order it was sent; the Kafka round trips overlap.
     */
    async send_message(session: ChatSession, payload: ClientPayload<"send_message">) {
      const { messageId, durable } = await session.ordered(async () => {
        checkContent(payload.content, deps.maxContentLength);
        await requireMember(session, payload.conversationId);
        const { record, message } = buildSendRecord({ senderId: session.userId, kind: "user", ...payload });
        return { messageId: record.messageId, durable: produce(deps.sendTopic, message) };
      });
      await durable;
      deps.onMessageSent?.();
      return { messageId };
    },

    /**
     * The message service decides (sender only, content, not deleted) and puts the edit on
     * Kafka behind the conversation's earlier sends; acked once Kafka has it. Run in the
     * device's order, so an edit follows the device's earlier sends and edits.
     */
    async edit_message(session: ChatSession, { conversationId, messageId, content }: ClientPayload<"edit_message">) {
      const result = await session.ordered(() => messages.changeMessage(conversationId, messageId, { type: "edit", actorId: session.userId, content }));
      return { messageId: result.messageId, changeId: result.changeId! };
    },

    async delete_message(session: ChatSession, { conversationId, messageId }: ClientPayload<"delete_message">) {
      const result = await session.ordered(() => messages.changeMessage(conversationId, messageId, { type: "delete", actorId: session.userId }));
      return { messageId: result.messageId, changeId: result.changeId };
    },

    async typing(session: ChatSession, { conversationId, isTyping }: ClientPayload<"typing">) {
      let bucket = typingBuckets.get(session.userId);
      if (!bucket) typingBuckets.set(session.userId, (bucket = new TokenBucket(deps.typingPerSecond, deps.typingPerSecond * 2)));
      if (!bucket.take()) throw new RateLimitedError(1, "Typing signals are rate-limited");
      const participants = await requireMember(session, conversationId);
      typing.typing(session.userId, conversationId, isTyping);
      await signalTyping(session.userId, conversationId, isTyping, participants);
      return {};
    },

    async mark_read(session: ChatSession, { conversationId, seq }: ClientPayload<"mark_read">) {
      const durable = await session.ordered(async () => {
        await requireMember(session, conversationId);
        const record: MessageRead = { v: 1, conversationId, userId: session.userId, seq, readAt: new Date().toISOString() };
        return { done: produce(deps.readTopic, { key: conversationId, value: JSON.stringify(record), headers: { v: "1", "user-id": session.userId } }) };
      });
      await durable.done;
      return {};
    },

    /**
     * Replays what the device missed since its last seen seq per conversation, in order.
     * The device is registered before this runs, so anything persisted later reaches it
     * live; live messages of these conversations are held meanwhile and released after
     * the replay without the ones it already showed. Reads that fail for a passing reason
     * (message service away) are retried for `resumeRetryMs`; if the resume still fails
     * that way, the live messages stay held (so the device never sees a gap) until it
     * sends `resume` again, which our clients do until one succeeds.
     */
    async resume(session: ChatSession, { conversations }: ClientPayload<"resume">) {
      const deadline = Date.now() + deps.resumeRetryMs;
      let replayed = 0;
      const truncated: string[] = [];
      for (const conversationId of Object.keys(conversations)) {
        if (!session.holds.has(conversationId)) session.holds.set(conversationId, []);
      }
      let keepHolding = false;
      try {
        for (const [conversationId, afterSeq] of Object.entries(conversations)) {
          await readUntil(deadline, () => requireMember(session, conversationId));
          let after = afterSeq;
          let sentHere = 0;
          for (;;) {
            const limit = Math.min(HISTORY_PAGE, deps.resumeMaxPerConversation - sentHere);
            const page = await readUntil(deadline, () => messages.messagesAfter(conversationId, after, limit));
            const entries: SequenceEntry[] = pageSequence(page);
            for (const entry of entries) showEntry(session, entry);
            sentHere += entries.length;
            after = entries.at(-1)?.seq ?? after;
            if (!page.hasMore) break;
            if (sentHere >= deps.resumeMaxPerConversation) {
              truncated.push(conversationId);
              break;
            }
          }
          replayed += sentHere;
          session.replayedUpTo.set(conversationId, Math.max(after, session.replayedUpTo.get(conversationId) ?? 0));
          releaseHeld(session, conversationId);
        }
      } catch (err) {
        keepHolding = isRetriable(err);
        throw err;
      } finally {
        if (!keepHolding) for (const conversationId of Object.keys(conversations)) releaseHeld(session, conversationId);
      }
      return { replayed, truncated };
    },

    /** The device's user has no device left on this gateway: their typing ends now. */
    userLeft(userId: string): void {
      typingBuckets.delete(userId);
      for (const conversationId of typing.stopAll(userId)) {
        void messages
          .participantsOf(conversationId)
          .then((participants) => signalTyping(userId, conversationId, false, participants))
          .catch(() => undefined);
      }
    },
  };
}

export type ChatActions = ReturnType<typeof createChatActions>;
