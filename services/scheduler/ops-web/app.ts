// The operator console: plain TypeScript on the scheduler's `/ops/api`, bundled by the
// scheduler with esbuild. Every section re-renders from its last answer; nothing is kept
// but the admin token (sessionStorage, so it ends with the tab).
import type {
  AutoMessagesView,
  BrokersView,
  ClusterView,
  ConsumerGroupView,
  DeadLettersView,
  Point,
  RatesView,
  RecordsView,
  RetryResult,
  TopicView,
} from "../src/ops/ops-types.ts";

const TOKEN_KEY = "ops.token";
const REFRESH_MS = 5000;
/** Kafka's views ask the brokers more than the rest: every other round. */
const KAFKA_EVERY = 2;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
function el(tag: string, text?: string | number | null, cls = ""): HTMLElement {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
const row = (...cells: Array<HTMLElement | string | number | null>) => {
  const tr = document.createElement("tr");
  for (const c of cells) tr.append(c instanceof HTMLElement ? c : el("td", c ?? "—"));
  return tr;
};
const td = (...children: Array<Node | string>) => {
  const cell = el("td");
  cell.append(...children);
  return cell;
};
/** Long names (prefixed topics, group ids) may break anywhere rather than widen the table. */
const wrap = (cell: HTMLElement) => {
  cell.classList.add("wrap");
  return cell;
};
const num = (v: number | null | undefined, digits = 0) => el("td", v === null || v === undefined ? "—" : v.toFixed(digits), "num");
const chip = (text: string, cls = "") => el("span", text, `chip ${cls}`);

class Unauthorized extends Error {}

let token = sessionStorage.getItem(TOKEN_KEY);
let timer: number | undefined;
let round = 0;

async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const res = await fetch(`api/${path}`, {
    method: init.method ?? "GET",
    headers: { authorization: `Bearer ${token ?? ""}`, ...(init.body === undefined ? {} : { "content-type": "application/json" }) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  if (res.status === 401) throw new Unauthorized();
  const data = (await res.json().catch(() => ({}))) as T & { error?: { message?: string } };
  if (!res.ok) throw new Error(data.error?.message ?? `HTTP ${res.status}`);
  return data;
}

function showLogin(message = ""): void {
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  window.clearTimeout(timer);
  for (const body of document.querySelectorAll("#app tbody")) body.replaceChildren();
  $("app").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
}

/** Runs one section's refresh; its error shows in the section, a 401 sends everyone back to the login. */
async function section(id: string, load: () => Promise<void>): Promise<void> {
  const error = $(id).querySelector(".error") as HTMLElement;
  try {
    await load();
    error.textContent = "";
  } catch (err) {
    if (err instanceof Unauthorized) throw err;
    error.textContent = (err as Error).message;
  }
}

// ---- cluster

function uptime(seconds: number | null): string {
  if (seconds === null) return "—";
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${String(m).padStart(2, "0")}m`;
  return m > 0 ? `${m}m ${String(seconds % 60).padStart(2, "0")}s` : `${seconds}s`;
}

async function loadCluster(): Promise<void> {
  const view = await api<ClusterView>("cluster");
  $("cluster-table").replaceChildren(
    ...view.processes.map((p) => {
      const checks = Object.entries(p.checks).map(([k, v]) => chip(`${k}: ${v}`, v === "ok" ? "" : "warn"));
      const tr = row(
        el("td", p.name),
        p.kind,
        el("td", p.ready ? "ready" : p.status === null ? "down" : `not ready (${p.status})`, p.ready ? "ok" : "bad"),
        p.version,
        p.node,
        el("td", uptime(p.uptimeSeconds), "nowrap"),
        num(p.gateway?.devices),
        num(p.gateway?.users),
        num(p.gateway?.deliveredPerSecond, 1),
        td(...checks, ...(p.error ? [chip(p.error, "warn")] : [])),
      );
      tr.dataset.process = p.name;
      if (!p.ready) tr.className = "bad";
      return tr;
    }),
  );
  $("updated").textContent = `updated ${new Date(view.at).toLocaleTimeString()}`;
}

// ---- charts

const SVG = "http://www.w3.org/2000/svg";
const COLORS = ["#2f6fed", "#e08a00", "#c62828"];

/** An inline SVG sparkline of one or more series on a shared y scale from 0. */
function sparkline(series: Point[][]): SVGSVGElement {
  const w = 240;
  const h = 48;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("preserveAspectRatio", "none");
  const all = series.flat().filter((p): p is [number, number] => p[1] !== null);
  if (all.length === 0) return svg;
  const t0 = Math.min(...all.map((p) => p[0]));
  const t1 = Math.max(...all.map((p) => p[0]));
  const max = Math.max(...all.map((p) => p[1])) || 1;
  series.forEach((points, i) => {
    const d = points
      .map((p, j) => {
        if (p[1] === null) return "";
        const x = t1 === t0 ? w : ((p[0] - t0) / (t1 - t0)) * w;
        const y = h - 2 - (p[1] / max) * (h - 4);
        return `${j === 0 || points[j - 1]![1] === null ? "M" : "L"}${x.toFixed(1)},${y.toFixed(1)}`;
      })
      .join("");
    const path = document.createElementNS(SVG, "path");
    path.setAttribute("d", d);
    path.setAttribute("fill", "none");
    path.setAttribute("stroke", COLORS[i % COLORS.length]!);
    path.setAttribute("stroke-width", "1.5");
    path.setAttribute("vector-effect", "non-scaling-stroke");
    svg.append(path);
  });
  return svg;
}

const latest = (points: Point[]) => [...points].reverse().find((p) => p[1] !== null)?.[1] ?? null;

function chart(title: string, series: Array<{ label: string; points: Point[]; format: (v: number) => string }>): HTMLElement {
  const box = el("div", null, "spark");
  const legend = el("div", null, "legend");
  legend.append(el("strong", `${title} `));
  series.forEach((s, i) => {
    const v = latest(s.points);
    const item = el("span", `${s.label} `);
    item.style.color = COLORS[i % COLORS.length]!;
    item.append(el("span", v === null ? "—" : s.format(v), "value"));
    legend.append(item);
  });
  box.append(legend, sparkline(series.map((s) => s.points)));
  return box;
}

async function loadRates(): Promise<void> {
  const r = await api<RatesView>("rates");
  const perSecond = (v: number) => `${v.toFixed(1)}/s`;
  const ms = (v: number) => `${(v * 1000).toFixed(v < 0.01 ? 1 : 0)} ms`;
  $("rates-source").textContent = `from ${r.source === "prometheus" ? "Prometheus" : "the processes' counters"}`;
  $("sparklines").replaceChildren(
    chart("sent", [{ label: "", points: r.sent, format: perSecond }]),
    chart("persisted", [{ label: "", points: r.persisted, format: perSecond }]),
    chart("delivered", [{ label: "", points: r.delivered, format: perSecond }]),
    chart("latency", [
      { label: "p50", points: r.p50, format: ms },
      { label: "p95", points: r.p95, format: ms },
      { label: "p99", points: r.p99, format: ms },
    ]),
  );
}

// ---- kafka

function renderTopics(topics: TopicView[]): void {
  $("topics").replaceChildren(
    ...topics.map((t) => {
      const parts = t.partitions.map((p) =>
        chip(`p${p.partition} L${p.leader} · [${p.replicas.join(",")}] · [${p.isr.join(",")}]`, p.underReplicated ? "warn" : ""),
      );
      const tr = row(el("td", t.name, "wrap"), td(...parts), el("td", t.underReplicated, t.underReplicated > 0 ? "bad num" : "num"));
      if (t.underReplicated > 0) tr.classList.add("warn");
      return tr;
    }),
  );
  const picker = $<HTMLSelectElement>("topic-picker");
  const chosen = picker.value;
  picker.replaceChildren(...topics.map((t) => Object.assign(document.createElement("option"), { value: t.name, textContent: t.name })));
  if (topics.some((t) => t.name === chosen)) picker.value = chosen;
}

function renderGroups(groups: ConsumerGroupView[]): void {
  $("groups").replaceChildren(
    ...groups.map((g) => {
      const members = g.members.flatMap((m) => [
        chip(`${m.clientId}@${m.host}`),
        ...m.assignments.map((a) => el("div", `${a.topic} [${a.partitions.join(",")}]`, "muted")),
      ]);
      const lags = g.topics.flatMap((t) => [el("div", t.topic, "muted"), ...t.partitions.map((p) => chip(`p${p.partition}: ${p.lag}`, p.lag > 0 ? "lag" : ""))]);
      const tr = row(el("td", g.groupId, "wrap"), g.state, wrap(td(...(members.length ? members : ["—"]))), wrap(td(...lags)), el("td", g.lag, g.lag > 0 ? "bad num" : "num"));
      tr.dataset.group = g.groupId;
      return tr;
    }),
  );
}

async function loadKafka(): Promise<void> {
  const [brokers, topics, groups] = await Promise.all([
    api<BrokersView>("kafka/brokers"),
    api<TopicView[]>("kafka/topics"),
    api<ConsumerGroupView[]>("kafka/consumer-groups"),
  ]);
  $("brokers").textContent = `Brokers: ${brokers.brokers.map((b) => `${b.nodeId} ${b.host}:${b.port}${b.nodeId === brokers.controller ? " (controller)" : ""}`).join(", ")}`;
  renderTopics(topics);
  renderGroups(groups);
}

async function loadRecords(): Promise<void> {
  const topic = $<HTMLSelectElement>("topic-picker").value;
  const limit = $<HTMLInputElement>("records-limit").value || "20";
  $("records-note").textContent = "reading…";
  const view = await api<RecordsView>(`kafka/topics/${encodeURIComponent(topic)}/records?limit=${encodeURIComponent(limit)}`);
  $("records-note").textContent = `${view.records.length} newest of ${view.topic}${view.partial ? " (partial: the 5 s budget ran out)" : ""}`;
  $("records").replaceChildren(
    ...view.records.map((r) =>
      row(
        num(r.partition),
        num(Number(r.offset)),
        new Date(r.timestamp).toLocaleString(),
        el("td", r.key, "wrap"),
        wrap(td(...Object.entries(r.headers).map(([k, v]) => chip(`${k}=${Array.isArray(v) ? v.join("|") : v}`)))),
        td(el("pre", typeof r.value === "string" ? r.value : JSON.stringify(r.value, null, 1))),
      ),
    ),
  );
}

// ---- automessages

async function loadAutoMessages(): Promise<void> {
  const [view, dlq] = await Promise.all([api<AutoMessagesView>("automessages"), api<DeadLettersView>("automessages/dlq?limit=50")]);
  $("queues").textContent = `Queues: main ${view.queues.main} · retrying ${view.queues.retrying} · dead letters ${view.queues.dlq}`;
  const t = view.totals;
  $("plans").replaceChildren(
    ...view.plans.map((p) => row(el("td", p.planId), num(p.planned), num(p.waiting), num(p.queued), num(p.sent), num(p.failed), num(p.deadLettered))),
    row(el("th", "all nights"), num(t.planned), num(t.waiting), num(t.queued), num(t.sent), num(t.failed), num(t.deadLettered)),
  );
  $("dlq").replaceChildren(
    ...dlq.records.map((d) => {
      const retry = el("button", "Retry", "secondary retry") as HTMLButtonElement;
      retry.disabled = d.automessageId === null;
      retry.onclick = () => void retryDeadLetters(d.automessageId ? { ids: [d.automessageId] } : null);
      const tr = row(el("td", d.automessageId, "wrap"), el("td", d.reason, "bad"), num(d.attempts), d.failedAt ? new Date(d.failedAt).toLocaleString() : null, d.content, td(retry));
      if (d.automessageId) tr.dataset.id = d.automessageId;
      return tr;
    }),
  );
  $<HTMLButtonElement>("retry-all").disabled = dlq.depth === 0;
}

async function retryDeadLetters(request: { ids: string[] } | { all: true } | null): Promise<void> {
  if (!request) return;
  try {
    const r = await api<RetryResult>("automessages/dlq/retry", { method: "POST", body: request });
    $("dlq-result").textContent = `Sent back: ${r.retried.length}${r.notFound.length ? ` · not in the queue: ${r.notFound.join(", ")}` : ""}`;
  } catch (err) {
    if (err instanceof Unauthorized) return showLogin("The admin token was refused.");
    $("dlq-result").textContent = `Retry failed: ${(err as Error).message}`;
  }
  await refresh();
}

// ---- refresh loop

async function refresh(): Promise<void> {
  const kafka = round++ % KAFKA_EVERY === 0;
  try {
    await Promise.all([
      section("cluster", loadCluster),
      section("charts", loadRates),
      section("automessages", loadAutoMessages),
      ...(kafka ? [section("kafka", loadKafka)] : []),
    ]);
  } catch (err) {
    if (err instanceof Unauthorized) return showLogin("The admin token was refused.");
  }
  // One loop, however many refreshes overlapped (a retry refreshes at once).
  window.clearTimeout(timer);
  if (token) timer = window.setTimeout(() => void refresh(), REFRESH_MS);
}

async function open(): Promise<void> {
  try {
    await api<ClusterView>("cluster");
  } catch (err) {
    if (err instanceof Unauthorized) return showLogin(token ? "The admin token was refused." : "");
  }
  $("login").hidden = true;
  $("app").hidden = false;
  round = 0;
  await refresh();
}

$("login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  token = $<HTMLInputElement>("token").value.trim();
  sessionStorage.setItem(TOKEN_KEY, token);
  void open();
});
$("logout").addEventListener("click", () => showLogin());
$("records-form").addEventListener("submit", (e) => {
  e.preventDefault();
  void section("kafka", loadRecords).catch(() => showLogin("The admin token was refused."));
});
$("retry-all").addEventListener("click", () => void retryDeadLetters({ all: true }));

if (token) void open();
else showLogin();
