import { hash } from "node:crypto";

/**
 * The messageId of (senderId, clientMsgId), as a UUID-shaped string. Deterministic, so a
 * resend through any gateway (or a redelivered AutoMessage) gets the same id before any
 * lookup, and the stored message keeps its first id.
 */
export function messageIdFor(senderId: string, clientMsgId: string): string {
  // One-shot hash: a third of createHash's cost, and this runs for every message sent.
  const h = hash("sha256", `${senderId}\u0000${clientMsgId}`, "hex");
  // Version nibble 8 (custom) and RFC 4122 variant, so strict UUID parsers accept it.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
