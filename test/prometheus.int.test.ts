import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { parse as load } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stackEnv, waitFor } from "../shared/src/testing/index.ts";
import { registerUser } from "./helpers/api.ts";
import { startCluster, type TestCluster } from "./helpers/cluster.ts";
import { createConversation } from "./helpers/conversations.ts";
import { freePort, repoRoot } from "./helpers/processes.ts";
import { connectClient, expectOk } from "./helpers/sockets.ts";

const run = promisify(execFile);
const rulesFile = join(repoRoot, "infra/prometheus/rules.yml");
const configScript = join(repoRoot, "infra/native/prometheus/config.mjs");
/** The JMX exporter of the stack's first broker: its port + 312 (infra/native/components/prometheus.sh). */
const kafkaExporter = (() => {
  const [host, port] = stackEnv.kafkaBrokers[0]!.split(":");
  return `${host}:${Number(port) + 312}`;
})();

interface PromVector {
  metric: Record<string, string>;
  value: [number, string];
}

/**
 * Prometheus (Debian's, as `npm run up` runs it) with the configuration the native stack
 * generates, scraping a test cluster's every process and the stack's broker, and evaluating the
 * recording rules operators read.
 */
describe("Prometheus scrapes every process and records what operators read", () => {
  let cluster: TestCluster;
  let prometheus: ChildProcess;
  let promUrl: string;
  const dir = mkdtempSync(join(tmpdir(), "chat-prom-"));

  const query = async (expr: string): Promise<PromVector[]> => {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as { status: string; data: { result: PromVector[] } };
    if (body.status !== "success") throw new Error(`query ${expr}: ${JSON.stringify(body)}`);
    return body.data.result;
  };

  beforeAll(async () => {
    cluster = await startCluster({ gateways: 2, automessages: true });
    const processes = [...cluster.gateways, cluster.auth, ...cluster.messages, cluster.scheduler!, cluster.worker!];
    // NAME-<n>: the generator takes the kind (the job of a target) from the name before it.
    const targets = processes.map((p, i) => `--target=${p.name.replace(/[^a-z]+$/i, "")}-${i}=127.0.0.1:${p.port}`);
    const { stdout } = await run(process.execPath, [configScript, "config", `--rules=${rulesFile}`, "--interval=1s", ...targets, `--kafka=kafka-1b=${kafkaExporter}`]);
    writeFileSync(join(dir, "prometheus.yml"), stdout);
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prometheus = spawn("prometheus", [`--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"], {
      stdio: "ignore",
    });
    await waitFor(async () => (await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.ok === true, { timeoutMs: 30_000, what: "Prometheus ready" });
  });
  afterAll(async () => {
    prometheus?.kill("SIGTERM");
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("has every process of the cluster and the broker up", async () => {
    const expected = cluster.gateways.length + 1 + cluster.messages.length + 2 + 1;
    await waitFor(async () => (await query("up == 1")).length === expected, { timeoutMs: 30_000, what: `${expected} targets up` });
    const kinds = (await query("up == 1")).map((v) => v.metric.kind).sort();
    expect(kinds).toEqual(["auth", "gateway", "gateway", "kafka", "message", "scheduler", "worker"]);
    expect((await query("kafka_server_replicamanager_partitioncount")).length).toBe(1);
  });

  it("records rates, end-to-end latency, lag, connections and AutoMessage states from real traffic", async () => {
    const [gwA, gwB] = cluster.gateways.map((g) => g.url) as [string, string];
    const [alice, bob] = await Promise.all([registerUser(gwA, "prom"), registerUser(gwB, "prom")]);
    const conversation = await createConversation(gwA, alice, [bob]);
    const a = await connectClient(gwA, alice.accessToken);
    const b = await connectClient(gwB, bob.accessToken);
    try {
      for (let i = 0; i < 20; i++) expectOk(await a.request("send_message", { conversationId: conversation.id, clientMsgId: `p${i}`, content: `hello ${i}` }));
      await b.waitForMessages(20);
      const positive = async (expr: string) => {
        await waitFor(async () => (await query(`${expr} > 0`)).length > 0, { timeoutMs: 30_000, what: `${expr} > 0` });
      };
      await positive("chat:messages_sent:rate1m");
      await positive("chat:messages_persisted:rate1m");
      await positive("chat:messages_delivered:rate1m");
      await positive("chat:delivery_latency_seconds:p99");
      await positive("chat:gateway_connections");
      await waitFor(async () => (await query("chat:consumer_lag:group")).some((v) => v.metric.group?.endsWith("message-service")), {
        timeoutMs: 30_000,
        what: "the message service's consumer lag",
      });
      await waitFor(async () => (await query("chat:automessages:state")).length >= 5, { timeoutMs: 30_000, what: "AutoMessage states" });
      await waitFor(async () => (await query("chat:automessage_dlq_depth")).length === 1, { timeoutMs: 30_000, what: "DLQ depth" });
    } finally {
      a.close();
      b.close();
    }
  });
});

/** What can be checked of the Compose side without a Docker engine. */
describe("operators' configuration, statically", () => {
  it("passes promtool: the rules, the native config and the Compose config", async () => {
    await run("promtool", ["check", "rules", rulesFile]);
    const dir = mkdtempSync(join(tmpdir(), "chat-promtool-"));
    try {
      const { stdout } = await run(process.execPath, [configScript, "config", `--rules=${rulesFile}`, "--target=gateway-3000=127.0.0.1:3000", "--kafka=kafka-1b=127.0.0.1:9404"]);
      writeFileSync(join(dir, "native.yml"), stdout);
      await run("promtool", ["check", "config", join(dir, "native.yml")]);
      // Compose mounts rules.yml at /etc/prometheus/rules.yml; point it at the file itself here.
      const compose = readFileSync(join(repoRoot, "infra/prometheus/prometheus.compose.yml"), "utf8").replace("/etc/prometheus/rules.yml", rulesFile);
      writeFileSync(join(dir, "compose.yml"), compose);
      await run("promtool", ["check", "config", join(dir, "compose.yml")]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("Compose mounts files that exist, scrapes services it defines, and the dashboard reads recorded series", () => {
    const compose = load(readFileSync(join(repoRoot, "docker-compose.yml"), "utf8")) as { services: Record<string, { volumes?: string[]; ports?: string[] }> };
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const v of svc.volumes ?? []) {
        const source = v.split(":")[0]!;
        if (source.startsWith("./")) expect(existsSync(join(repoRoot, source)), `${name}: ${source}`).toBe(true);
      }
    }
    const promConfig = load(readFileSync(join(repoRoot, "infra/prometheus/prometheus.compose.yml"), "utf8")) as {
      scrape_configs: Array<{ static_configs?: Array<{ targets: string[] }>; dns_sd_configs?: Array<{ names: string[] }> }>;
    };
    const scraped = promConfig.scrape_configs.flatMap((j) => [
      ...(j.static_configs ?? []).flatMap((s) => s.targets.map((t) => t.split(":")[0]!)),
      ...(j.dns_sd_configs ?? []).flatMap((d) => d.names),
    ]);
    for (const host of scraped) expect(Object.keys(compose.services), host).toContain(host);
    for (const svc of ["prometheus", "grafana", "jmx-agent"]) expect(Object.keys(compose.services)).toContain(svc);

    const rules = load(readFileSync(rulesFile, "utf8")) as { groups: Array<{ rules: Array<{ record: string }> }> };
    const recorded = new Set(rules.groups.flatMap((g) => g.rules.map((r) => r.record)));
    const dashboard = JSON.parse(readFileSync(join(repoRoot, "infra/grafana/dashboards/chat-cluster.json"), "utf8")) as { panels: Array<{ targets: Array<{ expr: string }> }> };
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
    expect(exprs.length).toBeGreaterThan(10);
    for (const expr of exprs) expect(recorded, expr).toContain(expr);
  });
});
