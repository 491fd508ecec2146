import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createReplicas, isConnectionRefused } from "./replicas.ts";

/** A port nothing listens on: one a server had, closed again. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("replicas", () => {
  const servers: Server[] = [];
  const urls: string[] = [];
  let gone: string;
  beforeAll(async () => {
    for (const name of ["one", "two"]) {
      const s = createServer((_req, res) => res.end(name));
      await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
      servers.push(s);
      urls.push(`http://127.0.0.1:${(s.address() as AddressInfo).port}`);
    }
    gone = `http://127.0.0.1:${await closedPort()}`;
  });
  afterAll(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))));

  const get = (base: string) => fetch(new URL("/x", base)).then((r) => r.text());

  it("sends requests to the replicas in turn", async () => {
    const replicas = createReplicas(urls);
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await replicas.request(get));
    expect(answers).toEqual(["one", "two", "one", "two", "one", "two"]);
  });

  it("makes a refused request again on the next replica, and passes the refusing one over while it rests", async () => {
    const replicas = createReplicas([gone, ...urls], { restMs: 60_000 });
    const tried: string[] = [];
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await replicas.request((base) => (tried.push(base), get(base))));
    expect(answers).toHaveLength(6);
    expect(new Set(answers)).toEqual(new Set(["one", "two"]));
    // Tried once, refused; then not again within its rest.
    expect(tried.filter((b) => b === gone)).toHaveLength(1);
  });

  it("tries a rested replica again", async () => {
    const replicas = createReplicas([gone, urls[0]!], { restMs: 50 });
    const tried: string[] = [];
    const attempt = (base: string) => (tried.push(base), get(base));
    await replicas.request(attempt);
    await new Promise((r) => setTimeout(r, 80));
    await replicas.request(attempt);
    await replicas.request(attempt);
    expect(tried.filter((b) => b === gone)).toHaveLength(2);
  });

  it("does not repeat a request that failed after it was sent, and fails with the refusal when every replica refuses", async () => {
    const replicas = createReplicas(urls);
    let attempts = 0;
    const failed = await replicas
      .request(async () => {
        attempts++;
        throw new Error("answered badly");
      })
      .catch((e: unknown) => e);
    expect((failed as Error).message).toBe("answered badly");
    expect(attempts).toBe(1);

    const none = createReplicas([gone, gone]);
    const refused = await none.request(get).catch((e: unknown) => e);
    expect(isConnectionRefused(refused)).toBe(true);
  });
});
