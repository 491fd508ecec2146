import { advancedConversation, type ConversationAdvance, type ConversationDoc, type ConversationStore } from "../store/conversation-store.ts";

/** Conversations kept per consumer: about 0.5 KiB each (participants and a 200-character preview). */
const DEFAULT_LIMIT = 20_000;

export interface OwnedConversationsOptions {
  limit?: number;
  /** Called once per read with how many conversations memory had and how many it asked the store for. */
  onRead?: (fromMemory: number, fromStore: number) => void;
}

/**
 * The conversations of the `message.send` partitions this consumer owns, as its last batch left
 * them. Only a partition's owner moves a conversation's lastSeq, message count and last message
 * (sends, edits and deletes all go through it), and participants never change, so what one
 * batch wrote is what the next would read back: a batch reads from the store only the
 * conversations it has not seen yet. Everything is dropped on a rebalance (the partition may
 * have been written elsewhere meanwhile) and after a batch that failed (its writes may have got
 * halfway). Should another writer still get in between (a zombie consumer), the unique `slot`
 * index refuses our next insert and the retry reads the store (`fresh`).
 */
export function createOwnedConversations({ limit = DEFAULT_LIMIT, onRead }: OwnedConversationsOptions = {}) {
  // Insertion order is recency order: a read moves an entry to the end, the oldest go first.
  const known = new Map<string, ConversationDoc>();

  function remember(doc: ConversationDoc): void {
    known.delete(doc._id);
    known.set(doc._id, doc);
    if (known.size > limit) known.delete(known.keys().next().value!);
  }

  return {
    /** The stored state of `ids` (missing ones left out): from memory, the rest (or, `fresh`, all) from the store. */
    async read(ids: string[], store: Pick<ConversationStore, "findMany">, fresh = false): Promise<ConversationDoc[]> {
      const docs: ConversationDoc[] = [];
      const missing: string[] = [];
      for (const id of ids) {
        const doc = fresh ? undefined : known.get(id);
        if (doc) {
          remember(doc);
          docs.push(doc);
        } else missing.push(id);
      }
      if (missing.length > 0) {
        for (const doc of await store.findMany(missing)) {
          remember(doc);
          docs.push(doc);
        }
      }
      onRead?.(ids.length - missing.length, missing.length);
      return docs;
    },

    /** Records what `ConversationStore.advance` has just written. */
    advanced(advances: ConversationAdvance[]): void {
      for (const a of advances) {
        const doc = known.get(a.conversationId);
        if (doc) known.set(a.conversationId, advancedConversation(doc, a));
      }
    },

    forget(ids: Iterable<string>): void {
      for (const id of ids) known.delete(id);
    },

    clear(): void {
      known.clear();
    },

    get size(): number {
      return known.size;
    },
  };
}

export type OwnedConversations = ReturnType<typeof createOwnedConversations>;
