import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as load } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SearchHit } from "../../../shared/src/contracts/index.ts";
import { waitFor } from "../../../shared/src/testing/index.ts";
import { call, registerUser, type TestUser } from "../../../test/helpers/api.ts";
import { startCluster, type TestCluster } from "../../../test/helpers/cluster.ts";
import { createConversation } from "../../../test/helpers/conversations.ts";
import { createClientTracker, expectOk } from "../../../test/helpers/sockets.ts";
import { startPrivateSonic } from "../../../test/helpers/sonic.ts";
import { repoRoot } from "../../../test/helpers/processes.ts";

interface Results {
  results: SearchHit[];
  nextCursor: string | null;
}

const as = (user: TestUser) => ({ token: user.accessToken, ip: user.ip });

function searcher(gateway: () => string) {
  const raw = (user: TestUser, params: Record<string, string>) =>
    call<Results & { error?: { code: string } }>(gateway(), "GET", `/api/search?${new URLSearchParams(params)}`, undefined, as(user));
  const search = async (user: TestUser, params: Record<string, string>) => {
    const res = await raw(user, params);
    if (res.status !== 200) throw new Error(`search ${JSON.stringify(params)}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  /** Waits until the index has caught up: the search returns exactly these contents. */
  const until = (user: TestUser, params: Record<string, string>, contents: string[]) =>
    waitFor(async () => {
      const r = await search(user, { limit: "50", ...params });
      return JSON.stringify(r.results.map((h) => h.content)) === JSON.stringify(contents) && r;
    }, { timeoutMs: 30_000, what: `search ${JSON.stringify(params)} = ${JSON.stringify(contents)}` });
  return { raw, search, until };
}

async function send(gateway: string, user: TestUser, conversationId: string, content: string, clientMsgId: string): Promise<string> {
  const res = await call<{ messageId: string }>(gateway, "POST", `/api/conversations/${conversationId}/messages`, { content, clientMsgId }, as(user));
  if (res.status !== 202) throw new Error(`send: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.messageId;
}

describe("search", () => {
  let cluster: TestCluster;
  const gw = (i: number) => cluster.gateways[i]!.url;
  const { raw, search, until } = searcher(() => gw(0));

  beforeAll(async () => {
    cluster = await startCluster({ gateways: 2 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it("finds the caller's messages only, with every word of the query, newest first, page by page, and follows edits and deletes", async () => {
    const [alice, bob, carol] = await Promise.all([registerUser(gw(0)), registerUser(gw(0)), registerUser(gw(1))]);
    const ab = await createConversation(gw(0), alice, [bob]);
    const bc = await createConversation(gw(0), bob, [carol]);
    const ac = await createConversation(gw(1), alice, [carol]);
    // One at a time, each indexed before the next: their order is the order they were stored.
    const split = await send(gw(0), alice, ab.id, "Banana split for two", "s1");
    await until(alice, { q: "split" }, ["Banana split for two"]);
    await send(gw(1), bob, bc.id, "banana secret between bob and carol", "s2");
    await until(carol, { q: "secret" }, ["banana secret between bob and carol"]);
    const bread = await send(gw(0), bob, ab.id, "banana bread recipe", "s3");
    await until(alice, { q: "recipe" }, ["banana bread recipe"]);
    await send(gw(1), carol, ac.id, "BANANA from carol", "s4");

    const all = await until(alice, { q: "banana" }, ["BANANA from carol", "banana bread recipe", "Banana split for two"]);
    expect(all.results.map((h) => h.conversationId)).toEqual([ac.id, ab.id, ab.id]);
    expect(all.results[1]).toMatchObject({ messageId: bread, seq: 2, senderId: bob.id, sentAt: expect.any(String) });
    expect(all.nextCursor).toBeNull();
    // Every word must be there; case does not matter.
    expect((await search(alice, { q: "BREAD banana" })).results.map((h) => h.content)).toEqual(["banana bread recipe"]);
    expect((await search(alice, { q: "banana secret" })).results).toEqual([]);
    // Bob sees his two conversations, never Alice and Carol's.
    await until(bob, { q: "banana" }, ["banana bread recipe", "banana secret between bob and carol", "Banana split for two"]);

    // One conversation: its own bucket, members only.
    await until(alice, { q: "banana", conversationId: ab.id }, ["banana bread recipe", "Banana split for two"]);
    expect(await raw(alice, { q: "banana", conversationId: bc.id })).toMatchObject({ status: 403, body: { error: { code: "NOT_A_MEMBER" } } });

    // Pages of one, following the cursor, give the same hits in the same order.
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const p: Results = await search(alice, { q: "banana", limit: "1", ...(cursor ? { cursor } : {}) });
      paged.push(...p.results.map((h) => h.messageId));
      cursor = p.nextCursor;
    } while (cursor && paged.length < 10);
    expect(paged).toEqual(all.results.map((h) => h.messageId));

    // An edit is indexed anew; a delete leaves the index.
    expect((await call(gw(0), "PATCH", `/api/conversations/${ab.id}/messages/${split}`, { content: "Cherry split for two" }, as(alice))).status).toBe(202);
    await until(alice, { q: "cherry" }, ["Cherry split for two"]);
    await until(alice, { q: "banana" }, ["BANANA from carol", "banana bread recipe"]);
    expect((await search(alice, { q: "cherry" })).results[0]).toMatchObject({ messageId: split, seq: 1, editedAt: expect.any(String) });
    expect((await call(gw(1), "DELETE", `/api/conversations/${ab.id}/messages/${bread}`, undefined, as(bob))).status).toBe(202);
    await until(alice, { q: "banana" }, ["BANANA from carol"]);
    await until(bob, { q: "recipe" }, []);
  });

  it("indexes a group's message for every member (more buckets than go to the engine at once), and for nobody else", async () => {
    const members = await Promise.all(Array.from({ length: 10 }, (_, i) => registerUser(gw(i % 2))));
    const outsider = await registerUser(gw(0));
    const [owner, ...others] = members as [TestUser, ...TestUser[]];
    const group = await call<{ conversation: { id: string } }>(gw(0), "POST", "/api/conversations", { participantIds: others.map((m) => m.id), title: "ten" }, as(owner));
    expect(group.status).toBe(201);
    await send(gw(1), others[3]!, group.body.conversation.id, "zanzibar meeting at noon", "g1");
    for (const member of members) await until(member, { q: "zanzibar" }, ["zanzibar meeting at noon"]);
    expect((await search(outsider, { q: "zanzibar" })).results).toEqual([]);
  });

  it("refuses bad input with 400, and unknown conversations and missing tokens", async () => {
    const alice = await registerUser(gw(0));
    expect(await raw(alice, { q: "" })).toMatchObject({ status: 400, body: { error: { code: "VALIDATION_FAILED" } } });
    expect(await raw(alice, { q: "   " })).toMatchObject({ status: 400 });
    expect(await raw(alice, { q: "x".repeat(201) })).toMatchObject({ status: 400 });
    expect(await raw(alice, { q: "ok", limit: "0" })).toMatchObject({ status: 400 });
    expect(await raw(alice, { q: "ok", limit: "51" })).toMatchObject({ status: 400 });
    expect(await raw(alice, { q: "ok", cursor: "bm90IGEgY3Vyc29y" })).toMatchObject({ status: 400 });
    expect(await raw(alice, { q: "ok", conversationId: "no such id!" })).toMatchObject({ status: 400 });
    expect(await raw(alice, { q: "ok", conversationId: "d-unknown" })).toMatchObject({ status: 404, body: { error: { code: "CONVERSATION_NOT_FOUND" } } });
    expect(await raw(alice, { q: "ok", other: "1" })).toMatchObject({ status: 400 });
    expect(await call(gw(0), "GET", "/api/search?q=ok")).toMatchObject({ status: 401 });
  });

  it("searches quotes, backslashes and newlines literally, in messages and queries, and they never reach the engine as a command", async () => {
    const [alice, bob] = await Promise.all([registerUser(gw(0)), registerUser(gw(1))]);
    const conv = await createConversation(gw(0), alice, [bob]);
    await send(gw(0), alice, conv.id, "keepsake stays findable", "k1");
    // Each of these would end the quoted text and start a command if it reached the protocol as it is.
    const hostile = [
      'say "quoted" words',
      'end" \nFLUSHB messages u.' + bob.id + '\nQUERY x y "z',
      "back\\slash \\\" and \\n here",
      "line one\r\nFLUSHC messages\nline three",
    ];
    for (const [i, content] of hostile.entries()) await send(gw(0), alice, conv.id, content, `h${i}`);
    await until(bob, { q: "line three" }, [hostile[3]!]);
    await until(bob, { q: "keepsake" }, ["keepsake stays findable"]);
    expect((await search(bob, { q: '"quoted"' })).results.map((h) => h.content)).toEqual([hostile[0]]);
    expect((await search(bob, { q: "back\\slash" })).results.map((h) => h.content)).toEqual([hostile[2]]);
    expect((await search(bob, { q: "flushb" })).results.map((h) => h.content)).toEqual([hostile[1]]);
    for (const q of ['x" LIMIT(1000) \nFLUSHB messages u.' + bob.id, '"\n', "\\", 'keepsake"\r\nPING']) {
      const res = await raw(bob, { q });
      expect(res.status).toBe(200);
    }
    // Nothing was flushed: every message is still found, in everyone's bucket.
    expect((await search(bob, { q: "keepsake" })).results).toHaveLength(1);
    expect((await search(alice, { q: "keepsake" })).results).toHaveLength(1);
    expect((await search(alice, { q: "line" })).results).toHaveLength(1);
  });
});

describe("search while the engine is down", () => {
  let cluster: TestCluster;
  let sonic: Awaited<ReturnType<typeof startPrivateSonic>>;
  const clients = createClientTracker();
  const gw = (i: number) => cluster.gateways[i]!.url;
  const { raw, until } = searcher(() => gw(0));

  beforeAll(async () => {
    sonic = await startPrivateSonic();
    cluster = await startCluster({ gateways: 2, env: { SEARCH_PORT: String(sonic.port), SEARCH_PASSWORD: sonic.password } });
  });
  afterAll(async () => {
    clients.closeAll();
    await cluster?.stop();
    await sonic?.kill();
  });

  it("answers 503 while messaging goes on, and indexes what it missed once the engine is back", async () => {
    const [alice, bob] = await Promise.all([registerUser(gw(0)), registerUser(gw(1))]);
    const conv = await createConversation(gw(0), alice, [bob]);
    const bobDevice = await clients.connect(gw(1), bob.accessToken);
    await send(gw(0), alice, conv.id, "alpha before", "a1");
    await until(bob, { q: "alpha" }, ["alpha before"]);

    await sonic.kill();
    const down = await waitFor(async () => {
      const res = await raw(bob, { q: "alpha" });
      return res.status === 503 && res;
    }, { what: "search 503" });
    expect(down.body).toMatchObject({ error: { code: "SEARCH_UNAVAILABLE", message: expect.stringContaining("messaging is not affected") } });

    // Messaging is unharmed: sent, stored, delivered; the message service is still ready, search shown as degraded.
    const aliceDevice = await clients.connect(gw(0), alice.accessToken);
    for (let i = 1; i <= 5; i++) expectOk(await aliceDevice.request("send_message", { conversationId: conv.id, content: `alpha while down ${i}`, clientMsgId: `d${i}` }));
    await bobDevice.waitForMessages(6);
    const ready = await fetch(`${cluster.messages[0]!.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: "ready", degraded: { search: expect.any(String) } });

    await sonic.start();
    const back = await until(bob, { q: "alpha" }, [1, 2, 3, 4, 5].reverse().map((i) => `alpha while down ${i}`).concat("alpha before"));
    expect(back.results).toHaveLength(6);
    await waitFor(async () => !("degraded" in ((await (await fetch(`${cluster.messages[0]!.url}/readyz`)).json()) as object)), { what: "search ready again" });
  });
});

describe("search in docker-compose.yml", () => {
  it("runs Sonic with the native stack's port, password and limits, and points the message service at it", () => {
    const compose = load(readFileSync(join(repoRoot, "docker-compose.yml"), "utf8"), { merge: true }) as {
      services: Record<string, { image?: string; environment?: Record<string, unknown>; volumes?: string[] }>;
    };
    const cfg = readFileSync(join(repoRoot, "infra/sonic/sonic.cfg"), "utf8");
    const native = readFileSync(join(repoRoot, "infra/native/components/sonic.sh"), "utf8");
    const env = compose.services.message!.environment!;
    expect(compose.services[String(env.SEARCH_HOST)]?.image).toMatch(/^valeriansaliou\/sonic:/);
    expect(compose.services.sonic!.volumes).toContain("./infra/sonic/sonic.cfg:/etc/sonic.cfg:ro");
    expect(cfg).toContain(`inet = "0.0.0.0:${env.SEARCH_PORT}"`);
    expect(cfg).toContain(`auth_password = "${env.SEARCH_PASSWORD}"`);
    expect(native).toContain(`SONIC_PORT="\${SONIC_PORT:-${env.SEARCH_PORT}}"`);
    expect(native).toContain(`SONIC_PASSWORD="\${SONIC_PASSWORD:-${env.SEARCH_PASSWORD}}"`);
    for (const text of [cfg, native]) expect(text).toContain("query_limit_maximum = 1000");
  });
});
