import type { StoredMessage } from "@chat/shared/contracts";
import { slotOf } from "../store/message-store.ts";
import { checkSonicName } from "./sonic.ts";

/**
 * How messages sit in Sonic. Every message is pushed into one bucket per participant
 * (`u.<userId>`) and one for its conversation (`c.<conversationId>`): a search reads only the
 * caller's own bucket, or the bucket of a conversation the caller is a member of, so what may
 * be read is decided by where the engine looks, not by filtering its answer.
 *
 * An object id is `<time>.<conversationId>.<seq>`: `time` is the message's storage time in
 * milliseconds, base 36, padded to 9 characters, so ids sort newest first as strings and a
 * hit names the message's slot without a lookup.
 */
export function searchIndexNames(collection: string) {
  const coll = checkSonicName(collection.replace(/[^A-Za-z0-9_-]/g, "_"));
  const userBucket = (userId: string) => checkSonicName(`u.${userId}`);
  const conversationBucket = (conversationId: string) => checkSonicName(`c.${conversationId}`);
  return {
    collection: coll,
    userBucket,
    conversationBucket,
    bucketsOf: (participantIds: string[], conversationId: string) => [...participantIds.map(userBucket), conversationBucket(conversationId)],
    objectOf: (m: Pick<StoredMessage, "createdAt" | "conversationId" | "seq">) =>
      checkSonicName(`${Date.parse(m.createdAt).toString(36).padStart(9, "0")}.${m.conversationId}.${m.seq}`),
  };
}

export type SearchIndexNames = ReturnType<typeof searchIndexNames>;

/** The message slot an object id names; undefined for anything else. */
export function slotOfObject(object: string): string | undefined {
  const m = /^[0-9a-z]{9}\.([A-Za-z0-9_-]{1,64})\.([1-9][0-9]{0,15})$/.exec(object);
  return m ? slotOf(m[1]!, Number(m[2])) : undefined;
}

/**
 * The words of a query, as the engine's tokenizer sees them (letters and digits, case-folded):
 * quotes, backslashes, newlines and every other sign are separators, never syntax.
 */
export function queryTerms(q: string, max = 8): string[] {
  return [...new Set(q.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((t) => t.length > 0))].slice(0, max);
}
