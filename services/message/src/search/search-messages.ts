import { AppError, ValidationError } from "@chat/shared";
import { memberConversation } from "../conversations/member-conversation.ts";
import type { SearchHit, SearchQuery } from "@chat/shared/contracts";
import type { ConversationStore } from "../store/conversation-store.ts";
import type { MessageStore } from "../store/message-store.ts";
import { queryTerms, slotOfObject, type SearchIndexNames } from "./search-index.ts";
import { SearchEngineUnavailable, type SonicSearch } from "./sonic.ts";

export interface SearchDeps {
  channel: SonicSearch;
  names: SearchIndexNames;
  conversations: ConversationStore;
  messages: MessageStore;
  /** Objects asked of the engine per query word (its own cap per word is 1000). @default 1000 */
  candidates?: number;
}

class SearchUnavailableError extends AppError {
  constructor(cause?: unknown) {
    super("SEARCH_UNAVAILABLE", "Search is unavailable right now; messaging is not affected. Try again shortly.", 503, true, { cause });
  }
}

const encodeCursor = (object: string) => Buffer.from(object).toString("base64url");
function decodeCursor(cursor: string): string {
  const object = Buffer.from(cursor, "base64url").toString();
  if (slotOfObject(object) === undefined) throw new ValidationError("Invalid cursor", { fields: [{ field: "cursor", message: "is not a cursor this API gave" }] });
  return object;
}

/**
 * `GET /api/search`: the caller's messages that contain every word of `q`, newest first.
 * The engine is asked within the caller's own bucket (or the bucket of one conversation they
 * are a member of), once per word; the answers are intersected and ordered by the object ids'
 * time. The page's messages are then read by key, so a hit shows the message as it is now
 * (an edit not indexed yet shows its new content; a delete not indexed yet is left out).
 */
export function createMessageSearch({ channel, names, conversations, messages, candidates = 1000 }: SearchDeps) {
  return async function search(userId: string, q: SearchQuery): Promise<{ results: SearchHit[]; nextCursor: string | null }> {
    let bucket = names.userBucket(userId);
    if (q.conversationId !== undefined) {
      await memberConversation(conversations, q.conversationId, userId);
      bucket = names.conversationBucket(q.conversationId);
    }
    const terms = queryTerms(q.q);
    if (terms.length === 0) return { results: [], nextCursor: null };
    const after = q.cursor !== undefined ? decodeCursor(q.cursor) : undefined;

    let answers: string[][];
    try {
      answers = await Promise.all(terms.map((term) => channel.run("query", (c) => c.query(names.collection, bucket, term, { limit: candidates, lang: "none" }))));
    } catch (err) {
      if (err instanceof SearchEngineUnavailable) throw new SearchUnavailableError(err);
      throw err;
    }
    let matching = new Set(answers[0]);
    for (const more of answers.slice(1)) matching = new Set(more.filter((o) => matching.has(o)));
    const ordered = [...matching]
      .filter((o) => after === undefined || o < after)
      .flatMap((object) => {
        const slot = slotOfObject(object);
        return slot === undefined ? [] : [{ object, slot }];
      })
      .sort((a, b) => (a.object < b.object ? 1 : a.object > b.object ? -1 : 0));

    // Read the rest of the page by key until it is full; hits deleted meanwhile are skipped.
    const results: SearchHit[] = [];
    let last: string | undefined;
    let i = 0;
    while (i < ordered.length && results.length < q.limit) {
      const slice = ordered.slice(i, i + q.limit - results.length);
      i += slice.length;
      const bySlot = new Map((await messages.messagesAt(slice.map((h) => h.slot))).map((d) => [d.slot, d]));
      for (const { object, slot } of slice) {
        last = object;
        const doc = bySlot.get(slot);
        if (!doc || doc.deletedAt) continue;
        results.push({
          conversationId: doc.conversationId,
          messageId: doc._id,
          seq: doc.seq,
          senderId: doc.senderId,
          content: doc.content,
          sentAt: doc.sentAt,
          ...(doc.editedAt ? { editedAt: doc.editedAt } : {}),
        });
      }
    }
    const more = last !== undefined && i < ordered.length;
    return { results, nextCursor: more ? encodeCursor(last!) : null };
  };
}
