// The pipelined ingest channel (src/search/sonic-ingest.ts) against a real Sonic of the test's
// own, which it stops and starts again.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "@chat/shared";
import { waitFor } from "../../../shared/src/testing/index.ts";
import { startPrivateSonic } from "../../../test/helpers/sonic.ts";
import { createSonicSearch, SearchEngineUnavailable } from "../src/search/sonic.ts";
import { createSonicIngest, type SonicIngest } from "../src/search/sonic-ingest.ts";

const logger = createLogger({ name: "test", level: "silent" });

describe("Sonic ingest channel, pipelined", () => {
  let sonic: Awaited<ReturnType<typeof startPrivateSonic>>;
  let ingest: SonicIngest;
  let search: ReturnType<typeof createSonicSearch>;
  const states: boolean[] = [];
  const query = (bucket: string, word: string) => search.run("query", (c) => c.query("coll", bucket, word, { limit: 1000 }));

  beforeAll(async () => {
    sonic = await startPrivateSonic();
    const options = { host: "127.0.0.1", port: sonic.port, password: sonic.password, logger, commandTimeoutMs: 3000 };
    ingest = createSonicIngest({ ...options, maxInFlight: 64, onStateChange: (up) => states.push(up) });
    search = createSonicSearch(options);
    ingest.start();
    search.start();
    await waitFor(() => ingest.connected && search.connected, { timeoutMs: 20_000, what: "channels connected" });
  }, 60_000);
  afterAll(async () => {
    await ingest?.close();
    await search?.close();
    await sonic?.kill();
  });

  it("answers 3,000 commands issued at once, in order, more than it keeps in flight", async () => {
    // (Half of them hold "quoted": Sonic skips a word found in over 90% of a bucket's 100+ objects.)
    const pushes = Array.from({ length: 3000 }, (_, i) => ingest.push("coll", "b1", `o${i}`, `burst word${i} ${i % 2 ? "plain" : '"quoted"'} back\\slash`));
    expect(new Set(await Promise.all(pushes))).toEqual(new Set(["OK"]));
    // Per object, commands run in the order given: a flush and a push issued together leave the push.
    const ordered = await Promise.all([ingest.push("coll", "b2", "x", "first"), ingest.flusho("coll", "b2", "x"), ingest.push("coll", "b2", "x", "second")]);
    expect(ordered[0]).toBe("OK");
    expect(ordered[1]).toMatch(/^RESULT \d+$/);
    expect(await query("b1", "word2999")).toEqual(["o2999"]);
    expect(await query("b1", "quoted")).toHaveLength(1000); // the newest 1,000 (retain_word_objects)
    expect((await query("b1", "quoted")).every((o) => Number(o.slice(1)) % 2 === 0)).toBe(true);
    expect(await query("b2", "second")).toEqual(["x"]);
    expect(await query("b2", "first")).toEqual([]);
  }, 60_000);

  it("fails what is in flight when the engine dies, reconnects by itself, and works again", async () => {
    const inFlight = Array.from({ length: 500 }, (_, i) => ingest.push("coll", "b3", `d${i}`, `doomed ${i}`).then(() => "ok", (err: unknown) => err));
    await sonic.kill();
    const outcomes = await Promise.all(inFlight);
    // Some may have been answered before the kill; every other one failed as unavailable, none hangs.
    for (const o of outcomes) if (o !== "ok") expect(o).toBeInstanceOf(SearchEngineUnavailable);
    await waitFor(() => !ingest.connected, { what: "channel down" });
    await expect(ingest.push("coll", "b3", "late", "late")).rejects.toBeInstanceOf(SearchEngineUnavailable);

    await sonic.start();
    await waitFor(() => ingest.connected && search.connected, { timeoutMs: 30_000, what: "channels reconnected" });
    expect(states.slice(-2)).toEqual([false, true]);
    expect(await ingest.push("coll", "b3", "after", "afterwards")).toBe("OK");
    expect(await query("b3", "afterwards")).toEqual(["after"]);
  }, 90_000);
});
