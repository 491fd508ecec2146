import { describe, expect, it } from "vitest";
import { z } from "zod";
import { messageIdFor } from "./message-id.ts";

describe("messageIdFor", () => {
  it("is stable per (sender, clientMsgId) and a valid UUID", () => {
    const a = messageIdFor("alice", "m1");
    expect(messageIdFor("alice", "m1")).toBe(a);
    expect(z.string().uuid().safeParse(a).success).toBe(true);
  });
  it("keeps the ids already stored (sha256 of sender, NUL, clientMsgId)", () => {
    // A resend after an upgrade must find the message stored before it.
    expect(messageIdFor("alice", "m1")).toBe("03a88313-1efe-822e-a18d-0faa8880e374");
  });
  it("differs across senders and ids, and cannot be forged by concatenation", () => {
    expect(messageIdFor("alice", "m1")).not.toBe(messageIdFor("bob", "m1"));
    expect(messageIdFor("alice", "m1")).not.toBe(messageIdFor("alice", "m2"));
    expect(messageIdFor("ab", "c")).not.toBe(messageIdFor("a", "bc"));
  });
});
