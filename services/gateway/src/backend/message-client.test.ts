import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createMessageClient } from "./message-client.ts";

// A stand-in message service: conversation `c<n>` has participants `u<n>a` and `u<n>b`; `gone`
// does not exist; asking for `broken` fails the whole request. Every user has one contact.
describe("message client: participants and contacts", () => {
  let server: Server;
  let baseUrl: string;
  let requests: string[][] = [];
  let contactRequests: string[][] = [];
  let delayMs = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      let raw = "";
      req.on("data", (c: Buffer) => (raw += c));
      req.on("end", () => {
        res.setHeader("content-type", "application/json");
        if (req.url === "/internal/users/contacts") {
          const { userIds } = JSON.parse(raw) as { userIds: string[] };
          contactRequests.push(userIds);
          return res.end(JSON.stringify({ users: userIds.map((userId) => ({ userId, contactIds: [`${userId}-friend`] })) }));
        }
        const { conversationIds } = JSON.parse(raw) as { conversationIds: string[] };
        requests.push(conversationIds);
        setTimeout(() => {
          if (req.url !== "/internal/conversations/participants" || req.headers["x-internal-token"] !== "t") {
            res.statusCode = 404;
            return res.end("{}");
          }
          if (conversationIds.includes("broken")) {
            res.statusCode = 500;
            return res.end("oops");
          }
          const conversations = conversationIds.filter((id) => id !== "gone").map((id) => ({ conversationId: id, participantIds: [`u${id.slice(1)}a`, `u${id.slice(1)}b`] }));
          res.end(JSON.stringify({ conversations }));
        }, delayMs);
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => {
    requests = [];
    contactRequests = [];
    delayMs = 0;
  });

  it("looks up the conversations missed in one turn in one request, each once, then answers from its cache", async () => {
    const client = createMessageClient({ baseUrl, internalToken: "t" });
    const ids = Array.from({ length: 300 }, (_, i) => `c${i}`);
    const answers = await Promise.all([...ids, ...ids].map((id) => client.participantsOf(id)));
    expect(answers[7]).toEqual(["u7a", "u7b"]);
    expect(answers[307]).toBe(answers[7]);
    expect(requests).toEqual([ids]);
    expect(await client.participantsOf("c7")).toEqual(["u7a", "u7b"]);
    expect(requests).toHaveLength(1);
  });

  it("keeps at most the set number of requests in flight, and asks for what missed meanwhile in the next one", async () => {
    delayMs = 50;
    const client = createMessageClient({ baseUrl, internalToken: "t", lookupsInFlight: 1 });
    const first = client.participantsOf("c1");
    await new Promise((r) => setTimeout(r, 10));
    const later = ["c2", "c3", "c4"].map((id) => client.participantsOf(id));
    await Promise.all([first, ...later]);
    expect(requests).toEqual([["c1"], ["c2", "c3", "c4"]]);
  });

  it("splits more misses than one request may name", async () => {
    const client = createMessageClient({ baseUrl, internalToken: "t" });
    await Promise.all(Array.from({ length: 1200 }, (_, i) => client.participantsOf(`c${i}`)));
    expect(requests.map((r) => r.length).sort((a, b) => b - a)).toEqual([500, 500, 200]);
    expect(new Set(requests.flat()).size).toBe(1200);
  });

  it("fails a conversation that does not exist with CONVERSATION_NOT_FOUND, and a failed request for all it named", async () => {
    const client = createMessageClient({ baseUrl, internalToken: "t" });
    const [found, gone] = await Promise.allSettled([client.participantsOf("c1"), client.participantsOf("gone")]);
    expect(found).toEqual({ status: "fulfilled", value: ["u1a", "u1b"] });
    expect(gone).toMatchObject({ status: "rejected", reason: { code: "CONVERSATION_NOT_FOUND", status: 404 } });
    // An id no conversation can have is refused alone, never asked for with the others.
    const [ok, malformed] = await Promise.allSettled([client.participantsOf("c3"), client.participantsOf("not an id/..")]);
    expect(ok).toEqual({ status: "fulfilled", value: ["u3a", "u3b"] });
    expect(malformed).toMatchObject({ status: "rejected", reason: { code: "CONVERSATION_NOT_FOUND" } });
    expect(requests.flat()).not.toContain("not an id/..");
    const failed = await Promise.allSettled([client.participantsOf("c2"), client.participantsOf("broken")]);
    expect(failed.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(failed[0]).toMatchObject({ reason: { code: "DEPENDENCY_UNAVAILABLE", retriable: true } });
    // Nothing failed is cached: the next call asks again.
    expect(await client.participantsOf("c2")).toEqual(["u2a", "u2b"]);
    expect(requests.at(-1)).toEqual(["c2"]);
  });

  it("asks for the contacts of many users in one request, never from a cache", async () => {
    const client = createMessageClient({ baseUrl, internalToken: "t" });
    const users = Array.from({ length: 250 }, (_, i) => `user${i}`);
    const answers = await Promise.all(users.map((u) => client.contactsOf(u)));
    expect(answers[3]).toEqual(["user3-friend"]);
    expect(contactRequests.map((r) => r.length).sort((a, b) => b - a)).toEqual([200, 50]);
    await client.contactsOf("user3");
    expect(contactRequests).toHaveLength(3);
  });
});
