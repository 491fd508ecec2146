import { mkdirSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomIp, registerUser } from "../../../test/helpers/api.ts";
import { startCluster, type TestCluster } from "../../../test/helpers/cluster.ts";
import { repoRoot } from "../../../test/helpers/processes.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

describe("the web client in headless Chromium, two browsers on two gateways", () => {
  let cluster: TestCluster;
  let browser: Browser;
  beforeAll(async () => {
    cluster = await startCluster({ gateways: 2 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  async function logIn(gateway: string, username: string, password: string): Promise<Page> {
    // Each browser gets its own client address, as two people would.
    const context = await browser.newContext({ extraHTTPHeaders: { "x-forwarded-for": randomIp() }, viewport: { width: 1100, height: 700 } });
    const page = await context.newPage();
    await page.goto(gateway);
    await page.fill("#login-name", username);
    await page.fill("#login-password", password);
    await page.click("#login-button");
    await page.waitForSelector("#app:not([hidden])");
    return page;
  }

  it("lets two people chat live, with unread counts, typing, read state, edits and deletes", async () => {
    const [gwA, gwB] = cluster.gateways.map((g) => g.url) as [string, string];
    const [alice, bob] = await Promise.all([registerUser(gwA, "alice"), registerUser(gwB, "bob")]);
    const a = await logIn(gwA, alice.username, alice.password);
    const b = await logIn(gwB, bob.username, bob.password);

    await a.fill("#new-users", bob.username);
    await a.click("#new-form button");
    await a.waitForSelector("#send-text:not([disabled])");
    await a.fill("#send-text", "Hello Bob, from gateway A");
    await a.press("#send-text", "Enter");

    // Bob, on the other gateway, gets the conversation with an unread badge, then the message.
    await b.waitForSelector("#conversations li .unread");
    expect(await b.textContent("#conversations li .unread")).toBe("1");
    await b.click("#conversations li");
    await b.waitForSelector("#message-list li >> text=Hello Bob, from gateway A");

    await b.type("#send-text", "Hi Alice");
    await a.waitForSelector("#typing >> text=is typing");
    await b.press("#send-text", "Enter");
    await a.waitForSelector("#message-list li >> text=Hi Alice");
    // Alice's own message shows it was read once Bob opened the conversation.
    await a.waitForSelector("#message-list li.mine .state >> text=read");
    // And Bob's reply shows read once Alice, who has the conversation open, has it.
    await b.waitForSelector("#message-list li.mine .state >> text=read");

    // Alice fixes her message, then takes it back; Bob's page follows both.
    a.once("dialog", (dialog) => void dialog.accept("Hello Bob, edited"));
    await a.click("#message-list li.mine button >> text=edit");
    await b.waitForSelector("#message-list li >> text=Hello Bob, edited");
    expect(await b.textContent("#message-list li:first-child .state")).toBe("edited");
    a.once("dialog", (dialog) => void dialog.accept());
    await a.click("#message-list li.mine button >> text=delete");
    await b.waitForSelector("#message-list li .deleted >> text=message deleted");
    await a.waitForSelector("#message-list li.mine .deleted");
    expect(await b.textContent("#message-list li.mine .state")).toBe("read");

    mkdirSync(`${repoRoot}test-results`, { recursive: true });
    await a.screenshot({ path: `${repoRoot}test-results/web-client-alice.png` });
    await b.screenshot({ path: `${repoRoot}test-results/web-client-bob.png` });
  });
});
