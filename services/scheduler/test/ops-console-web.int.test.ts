import { mkdirSync, writeFileSync } from "node:fs";
import { MongoClient } from "mongodb";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerUser } from "../../../test/helpers/api.ts";
import { entries, startCluster, type TestCluster } from "../../../test/helpers/cluster.ts";
import { createConversation } from "../../../test/helpers/conversations.ts";
import { freePort, repoRoot } from "../../../test/helpers/processes.ts";
import { connectClient, expectOk, type ChatClient } from "../../../test/helpers/sockets.ts";
import { stackEnv, waitFor } from "../../../shared/src/testing/index.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

interface AutoDoc {
  _id: string;
  isSent: boolean;
  deadLetteredAt: Date | null;
}

describe("the operator console in headless Chromium", () => {
  let cluster: TestCluster;
  let browser: Browser;
  let mongo: MongoClient;
  const clients: ChatClient[] = [];

  beforeAll(async () => {
    cluster = await startCluster({ gateways: 2, automessages: true, env: { SCHEDULER_CRON_ENABLED: "false" } });
    mongo = await new MongoClient(stackEnv.mongoUrl).connect();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await browser?.close();
    await cluster?.stop();
    await mongo?.close();
  });

  const admin = (path: string, body: unknown) =>
    fetch(`${cluster.scheduler!.url}/admin/automessages/${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${cluster.env.ADMIN_API_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    }).then((r) => r.json() as Promise<{ result: { inserted?: number } }>);

  /** One chat message through the gateways, and one AutoMessage dead-lettered by a worker that cannot reach the message service. */
  async function prepare(): Promise<{ content: string; deadId: string }> {
    const [gwA, gwB] = cluster.gateways.map((g) => g.url) as [string, string];
    const [alice, bob] = await Promise.all([registerUser(gwA, "alice"), registerUser(gwB, "bob")]);
    const a = await connectClient(gwA, alice.accessToken);
    const b = await connectClient(gwB, bob.accessToken);
    clients.push(a, b);
    const conv = await createConversation(gwA, alice, [bob]);
    const content = `ops console ${Date.now()}`;
    expectOk(await a.request("send_message", { conversationId: conv.id, content, clientMsgId: "web-1" }));
    await b.waitForMessages(1);

    cluster.worker!.child.kill("SIGTERM");
    await cluster.worker!.exited;
    const broken = await cluster.spawn("worker-broken", entries.worker, { MESSAGE_URL: `http://127.0.0.1:${await freePort()}`, AUTOMESSAGE_MAX_ATTEMPTS: "1" });
    expect((await admin("plan", { sendWithin: "1s", planId: "web-night" })).result.inserted).toBe(1);
    await new Promise((r) => setTimeout(r, 1100));
    await admin("queue", {});
    const coll = mongo.db(cluster.env.MONGO_DB!).collection<AutoDoc>("automessages");
    const dead = await waitFor(async () => (await coll.findOne({}).then((d) => (d?.deadLetteredAt ? d : undefined))), { timeoutMs: 20_000, what: "dead-lettered" });
    broken.child.kill("SIGTERM");
    await broken.exited;
    await cluster.spawn("worker-again", entries.worker, {}, cluster.worker!.port);
    return { content, deadId: dead._id };
  }

  async function open(): Promise<{ page: Page; bytes: number; loadMs: number }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const sizes = new Map<string, number>();
    page.on("response", (res) => {
      if (/\/ops\/(app\.(js|css))?$/.test(new URL(res.url()).pathname)) void res.body().then((b) => sizes.set(res.url(), b.length));
    });
    await page.goto(`${cluster.scheduler!.url}/ops/`, { waitUntil: "load" });
    // Page code as text: this file is compiled without the DOM's types.
    const loadMs = Math.round(await page.evaluate<number>(`(() => { const n = performance.getEntriesByType("navigation")[0]; return n.loadEventEnd - n.startTime; })()`));
    await waitFor(() => sizes.size === 3, { what: "page, script and stylesheet" });
    return { page, bytes: [...sizes.values()].reduce((a, b) => a + b, 0), loadMs };
  }

  it("logs in with the admin token, shows the cluster, Kafka and records, and retries a dead letter until it is sent", async () => {
    const { content, deadId } = await prepare();
    const prefix = cluster.env.KAFKA_TOPIC_PREFIX!;
    const { page, bytes, loadMs } = await open();

    // A wrong token: nothing but the login form.
    await page.fill("#token", "not-the-admin-token");
    await page.click("#login-button");
    await page.waitForSelector("#login-error >> text=refused");
    expect(await page.isHidden("#app")).toBe(true);
    expect(await page.locator("#app tbody tr").count()).toBe(0);

    await page.fill("#token", cluster.env.ADMIN_API_TOKEN!);
    await page.click("#login-button");
    await page.waitForSelector("#app:not([hidden])");
    expect(await page.isHidden("#login")).toBe(true);
    for (const gw of ["gateway-0", "gateway-1"]) await page.waitForSelector(`#cluster-table tr[data-process="${gw}"] td.ok >> text=ready`);
    expect(await page.textContent(`#cluster-table tr[data-process="gateway-0"]`)).toContain("gateway");

    // Consumer groups with their lag per partition.
    const group = `#groups tr[data-group="${prefix}message-service"]`;
    await page.waitForSelector(`${group} .chip >> text=/^p0: \\d+$/`, { timeout: 20_000 });
    expect(await page.locator(`${group} .chip`).filter({ hasText: /^p\d: \d+$/ }).count()).toBe(4);
    expect(await page.locator(`#groups tr[data-group^="${prefix}gateway."]`).count()).toBe(2);

    // The send topic's newest records, decoded.
    await page.selectOption("#topic-picker", `${prefix}message.send`);
    await page.click("#records-form button");
    await page.waitForSelector(`#records pre >> text=${content}`);

    // The sparklines draw a line once three samples (two rates) exist; a quiet cluster's is flat, so only attached.
    await page.waitForSelector('#sparklines .spark svg path[d*="L"]', { state: "attached", timeout: 20_000 });

    // The dead letter, with its reason; Retry sends it back, and it is sent.
    const row = `#dlq tr[data-id="${deadId}"]`;
    await page.waitForSelector(`${row} >> text=/Message service (unavailable|unreachable)/`);
    if (process.env.OPS_SCREENSHOT === "1") await page.screenshot({ path: `${repoRoot}docs/ops-console.png`, fullPage: true });
    await page.click(`${row} button.retry`);
    await page.waitForSelector("#dlq-result >> text=Sent back: 1");
    const coll = mongo.db(cluster.env.MONGO_DB!).collection<AutoDoc>("automessages");
    await waitFor(async () => (await coll.findOne({ _id: deadId }))?.isSent === true, { timeoutMs: 20_000, what: "the retried AutoMessage sent" });
    await page.waitForSelector(row, { state: "detached" });
    // The night's counters: sent 1, dead-lettered 0.
    await page.waitForFunction(
      `(() => { const c = [...document.querySelectorAll("#plans tr")].find((tr) => tr.firstElementChild?.textContent === "web-night")?.children; return c?.[4]?.textContent === "1" && c?.[6]?.textContent === "0"; })()`,
      undefined,
      { timeout: 15_000 },
    );
    await page.waitForSelector("#queues >> text=dead letters 0");

    // Small and quick: the whole page is a few kilobytes.
    expect(bytes).toBeLessThan(40_000);
    expect(loadMs).toBeLessThan(5_000);
    mkdirSync(`${repoRoot}test-results`, { recursive: true });
    writeFileSync(`${repoRoot}test-results/ops-console-web.json`, JSON.stringify({ bytes, loadMs }));
  });
});
