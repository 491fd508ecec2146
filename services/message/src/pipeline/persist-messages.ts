import { isDuplicateKey } from "@chat/shared";
import type { ConversationRecord, MessageChange, MessageDelete, MessageEdit, StoredMessage } from "@chat/shared/contracts";
import type { ConversationAdvance, ConversationDoc, ConversationStore, LastMessage } from "../store/conversation-store.ts";
import type { OwnedConversations } from "./owned-conversations.ts";
import {
  changedFields,
  isChange,
  messageDocOf,
  ordinalOf,
  slotOf,
  toMessageChange,
  toStoredMessage,
  type ChangeDoc,
  type EntryDoc,
  type MessageDoc,
  type MessageStore,
} from "../store/message-store.ts";

export interface Rejected {
  record: ConversationRecord;
  reason: "CONVERSATION_NOT_FOUND" | "NOT_A_MEMBER" | "CONTENT_TOO_LONG" | "MESSAGE_NOT_FOUND" | "NOT_THE_SENDER";
}

/** What a batch adds to a conversation's sequence, in seq order: messages, edits and deletes. */
export type Entry = { kind: "message"; message: StoredMessage } | { kind: "change"; change: MessageChange; message: StoredMessage };

export interface PersistResult {
  /** Entries to deliver, in Kafka order: new ones, and stored ones whose Kafka record is being replayed. */
  toDeliver: Array<{ entry: Entry; participantIds: string[] }>;
  /** How many records were already stored and delivered (resends, redeliveries). */
  duplicates: number;
  /** Edits and deletes of a message deleted meanwhile: nothing left to change. */
  ignored: number;
  rejected: Rejected[];
}

export interface PersistDeps {
  conversations: ConversationStore;
  messages: MessageStore;
  /** The conversations as this consumer's earlier batches left them. */
  owned: OwnedConversations;
  maxContentLength: number;
}

const MAX_ATTEMPTS = 5;

/**
 * How much an attempt reads before it lays a batch out. The first trusts what it knows: its
 * conversations as this consumer left them, and sends as new (a send's `_id` is derived from
 * (senderId, clientMsgId), so the unique index refuses a resend or a replay). When the insert
 * is refused, the second reads the conversations and every id from the store; a third and
 * later ones also take each conversation's next seq from what is stored, past `lastSeq`.
 */
interface Reads {
  /** Conversations from the store, not from memory. */
  freshConversations: boolean;
  /** Look sends up (resends and replays); changes and their targets are always looked up. */
  sends: boolean;
  fromStoredMax: boolean;
}
const readsFor = (attempt: number): Reads => ({ freshConversations: attempt > 1, sends: attempt > 1, fromStoredMax: attempt > 2 });

/**
 * Stores a batch of `message.send` records (Kafka order within each conversation). Every record
 * that is stored takes the conversation's next `seq` after its `lastSeq`: sends and, as their
 * own entries, edits and deletes. As a rule that is one insert and one update of the
 * conversations (and, with edits or deletes, one lookup of their targets and one update of
 * them): the conversations come from memory, and sends are taken to be new. The unique `_id`
 * and `slot` indexes refuse anything else — a resend, a replay after a crash, a seq another
 * writer took (a zombie consumer during a rebalance, or a crash between insert and `advance`)
 * — and the insert is undone and tried again with more read from the store (`readsFor`).
 */
export async function persistMessages(records: ConversationRecord[], origins: string[], deps: PersistDeps): Promise<PersistResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await persistOnce(records, origins, deps, readsFor(attempt));
    } catch (err) {
      // The batch may have got halfway: what memory holds of its conversations is not to be trusted.
      deps.owned.forget(records.map((r) => r.conversationId));
      if (!isDuplicateKey(err) || attempt >= MAX_ATTEMPTS) throw err;
    }
  }
}

/** The id a record is stored under: a send's messageId, a change's changeId. */
const storedIdOf = (record: ConversationRecord) => (record.type === "send" ? record.messageId : record.changeId);

const summaryOf = (m: MessageDoc): LastMessage => ({
  messageId: m._id,
  senderId: m.senderId,
  content: m.deletedAt ? "" : m.content,
  seq: m.seq,
  sentAt: m.sentAt,
  ...(m.editedAt ? { editedAt: m.editedAt } : {}),
  ...(m.deletedAt ? { deletedAt: m.deletedAt } : {}),
});

/** One conversation's position while a batch is laid out. */
interface Cursor {
  conv: ConversationDoc;
  nextSeq: number;
  count: number;
  lastMessage: LastMessage | null;
  advance?: ConversationAdvance;
}

async function persistOnce(records: ConversationRecord[], origins: string[], deps: PersistDeps, reads: Reads): Promise<PersistResult> {
  const { conversations, messages, owned, maxContentLength } = deps;
  const convIds = [...new Set(records.map((r) => r.conversationId))];
  const convById = new Map<string, ConversationDoc>((await owned.read(convIds, conversations, reads.freshConversations)).map((c) => [c._id, c]));

  const rejected: Rejected[] = [];
  const accepted: ConversationRecord[] = [];
  const originOf = new Map(records.map((r, i) => [r, origins[i]!]));
  for (const record of records) {
    const conv = convById.get(record.conversationId);
    const authorId = record.type === "send" ? record.senderId : record.actorId;
    if (!conv) rejected.push({ record, reason: "CONVERSATION_NOT_FOUND" });
    else if (!conv.participantIds.includes(authorId)) rejected.push({ record, reason: "NOT_A_MEMBER" });
    else if (record.type !== "delete" && record.content.length > maxContentLength) rejected.push({ record, reason: "CONTENT_TOO_LONG" });
    else accepted.push(record);
  }

  // One lookup finds the stored messages that changes target, replayed changes (by changeId)
  // and, when `reads.sends`, resends and replays of sends.
  const lookup = new Set<string>();
  for (const r of accepted) {
    if (r.type !== "send") lookup.add(r.changeId).add(r.messageId);
    else if (reads.sends) lookup.add(r.messageId);
  }
  const stored = new Map<string, EntryDoc>((await messages.findByIds([...lookup])).map((d) => [d._id, d]));

  const cursors = new Map<string, Cursor>();
  for (const id of convIds) {
    const conv = convById.get(id);
    if (!conv) continue;
    let top = conv.lastSeq;
    let count = conv.messageCount ?? conv.lastSeq;
    if (reads.fromStoredMax) {
      top = await messages.maxSeq(id, conv.lastSeq);
      const entry = await messages.entryAt(id, top);
      count = entry ? ordinalOf(entry) : 0;
    }
    cursors.set(id, { conv, nextSeq: top + 1, count, lastMessage: conv.lastMessage });
  }
  const moved = (c: Cursor, seq: number): ConversationAdvance =>
    (c.advance ??= { conversationId: c.conv._id, lastSeq: seq, messageCount: c.count });

  const now = new Date();
  const seen = new Set<string>();
  const fresh: EntryDoc[] = [];
  /** Messages this batch sends: a change of one is inserted with it, already applied. */
  const sentHere = new Set<string>();
  /** Messages stored earlier that this batch changes (a message new in this batch is inserted changed). */
  const applied: MessageChange[] = [];
  const result: PersistResult = { toDeliver: [], duplicates: 0, ignored: 0, rejected };

  /** Applies a change to its target in memory (and in the store, after the insert) and to the conversation's summary. */
  function apply(c: Cursor, change: MessageChange, target: MessageDoc, isFresh: boolean): void {
    Object.assign(target, changedFields(change));
    if (!isFresh) applied.push(change);
    if (c.lastMessage?.messageId === target._id) {
      c.lastMessage = summaryOf(target);
      const advance = moved(c, change.seq);
      advance.lastMessage = c.lastMessage;
    }
  }

  for (const record of accepted) {
    const c = cursors.get(record.conversationId)!;
    const participantIds = c.conv.participantIds;
    const id = storedIdOf(record);
    if (seen.has(id)) {
      result.duplicates++;
      continue;
    }
    seen.add(id);
    const existing = stored.get(id);
    if (existing) {
      // The same Kafka record again means a replay after a crash, possibly before its delivery
      // events were written (or its change applied): do it again (clients de-duplicate by
      // messageId and seq). Another record is a resend: already delivered the first time. A
      // clientMsgId reused in another conversation is the sender's bug: nothing of the first
      // message may leak here.
      if (existing.origin === originOf.get(record) && existing.conversationId === record.conversationId) {
        if (isChange(existing)) {
          const change = toMessageChange(existing);
          const target = stored.get(existing.messageId);
          if (!target || isChange(target)) throw new Error(`stored change ${existing._id} has lost its message ${existing.messageId}`);
          if (!(change.type === "edited" && target.deletedAt)) apply(c, change, target, false);
          result.toDeliver.push({ entry: { kind: "change", change, message: toStoredMessage(target) }, participantIds });
        } else result.toDeliver.push({ entry: { kind: "message", message: toStoredMessage(existing) }, participantIds });
      } else result.duplicates++;
      continue;
    }
    const seq = c.nextSeq;
    if (record.type === "send") {
      c.nextSeq++;
      c.count++;
      const doc: MessageDoc = { ...messageDocOf(record, seq, originOf.get(record)!, now), n: c.count };
      fresh.push(doc);
      sentHere.add(doc._id);
      stored.set(doc._id, doc);
      c.lastMessage = summaryOf(doc);
      Object.assign(moved(c, seq), { lastSeq: seq, messageCount: c.count, lastMessage: c.lastMessage, lastActivityAt: now });
      result.toDeliver.push({ entry: { kind: "message", message: toStoredMessage(doc) }, participantIds });
      continue;
    }
    const target = stored.get(record.messageId);
    if (!target || isChange(target) || target.conversationId !== record.conversationId) {
      rejected.push({ record, reason: "MESSAGE_NOT_FOUND" });
      continue;
    }
    if (target.senderId !== record.actorId) {
      rejected.push({ record, reason: "NOT_THE_SENDER" });
      continue;
    }
    if (target.deletedAt) {
      // Deleted meanwhile (a delete is final): nothing left to change.
      result.ignored++;
      continue;
    }
    c.nextSeq++;
    const doc = changeDocOf(record, target, seq, originOf.get(record)!, now, c.count);
    const change = toMessageChange(doc);
    fresh.push(doc);
    Object.assign(moved(c, seq), { lastSeq: seq, messageCount: c.count });
    apply(c, change, target, sentHere.has(target._id));
    result.toDeliver.push({ entry: { kind: "change", change, message: toStoredMessage(target) }, participantIds });
  }

  await messages.insertAllOrNone(fresh);
  await messages.applyChanges(applied);
  const advances = [...cursors.values()].flatMap((c) => (c.advance ? [c.advance] : []));
  await conversations.advance(advances);
  owned.advanced(advances);
  return result;
}

function changeDocOf(record: MessageEdit | MessageDelete, target: MessageDoc, seq: number, origin: string, createdAt: Date, n: number): ChangeDoc {
  return {
    _id: record.changeId,
    conversationId: record.conversationId,
    seq,
    slot: slotOf(record.conversationId, seq),
    change: record.type === "edit" ? "edited" : "deleted",
    messageId: target._id,
    messageSeq: target.seq,
    actorId: record.actorId,
    ...(record.type === "edit" ? { content: record.content } : {}),
    at: createdAt.toISOString(),
    createdAt,
    origin,
    n,
  };
}

