import type { LoadReport } from "./run-load.ts";

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

/** A polyline chart as inline SVG: no scripts, no network, opens anywhere. */
function lineChart(title: string, series: Array<{ name: string; color: string; points: Array<[number, number]> }>, unit: string): string {
  const W = 720;
  const H = 240;
  const pad = 40;
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const maxX = Math.max(1, ...xs);
  const maxY = Math.max(1, ...ys);
  const x = (v: number) => pad + (v / maxX) * (W - 2 * pad);
  const y = (v: number) => H - pad - (v / maxY) * (H - 2 * pad);
  const lines = series
    .map((s) => `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${s.points.map(([a, b]) => `${x(a).toFixed(1)},${y(b).toFixed(1)}`).join(" ")}"/>`)
    .join("");
  const legend = series.map((s, i) => `<text x="${pad + i * 140}" y="16" fill="${s.color}">■ ${esc(s.name)}</text>`).join("");
  return `<h2>${esc(title)}</h2><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img">
<line x1="${pad}" y1="${H - pad}" x2="${W - pad}" y2="${H - pad}" stroke="#999"/><line x1="${pad}" y1="${pad}" x2="${pad}" y2="${H - pad}" stroke="#999"/>
<text x="${pad}" y="${pad - 6}" font-size="11">${maxY.toFixed(0)} ${esc(unit)}</text><text x="${W - pad}" y="${H - pad + 16}" font-size="11" text-anchor="end">${maxX}s</text>
${legend}${lines}</svg>`;
}

function barChart(title: string, bars: Array<{ label: string; value: number }>): string {
  const W = 720;
  const H = 240;
  const pad = 40;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const bw = (W - 2 * pad) / Math.max(1, bars.length);
  const rects = bars
    .map((b, i) => {
      const h = (b.value / max) * (H - 2 * pad);
      return `<rect x="${(pad + i * bw + 2).toFixed(1)}" y="${(H - pad - h).toFixed(1)}" width="${(bw - 4).toFixed(1)}" height="${h.toFixed(1)}" fill="#4a7"/>
<text x="${(pad + i * bw + bw / 2).toFixed(1)}" y="${H - pad + 14}" font-size="10" text-anchor="middle">${esc(b.label)}</text>
<text x="${(pad + i * bw + bw / 2).toFixed(1)}" y="${(H - pad - h - 3).toFixed(1)}" font-size="10" text-anchor="middle">${b.value}</text>`;
    })
    .join("");
  return `<h2>${esc(title)}</h2><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img">${rects}</svg>`;
}

/** Lost connections and their catch-up, when the report has them (reports of older versions do not). */
function reconnectRow(r: LoadReport, row: (k: string, v: unknown) => string): string {
  const c = r.reconnects;
  if (!c) return "";
  return row(
    "disconnects / reconnects / caught up",
    `${c.disconnects} / ${c.reconnects} / ${c.caughtUp} (refused ${c.refused}, resume retries ${c.resumeRetries}, dropped ${c.resumeDropped}, history pages ${c.historyPages})`,
  );
}

/** The whole report as one self-contained HTML page. */
export function renderHtmlReport(r: LoadReport): string {
  const row = (k: string, v: unknown) => `<tr><th>${esc(k)}</th><td>${esc(String(v))}</td></tr>`;
  const t = r.timeline;
  return `<!doctype html><html><head><meta charset="utf-8"><title>Load test ${esc(r.startedAt)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:800px}table{border-collapse:collapse}th,td{padding:2px 12px;text-align:left;border-bottom:1px solid #eee}svg{background:#fafafa}</style></head><body>
<h1>Load test, ${esc(r.startedAt)}</h1>
<table>
${row("gateways", r.options.gateways.join(", "))}${row("users / pairs", `${r.options.users} / ${r.options.users / 2}`)}${row("target rate", `${r.options.rate} msg/s for ${r.options.durationMs / 1000} s`)}
${row("connections ok / failed", `${r.connections.ok} / ${r.connections.failed}`)}${reconnectRow(r, row)}${row("connect ms avg / min / max / p95", `${r.connections.connectMs.avg} / ${r.connections.connectMs.min} / ${r.connections.connectMs.max} / ${r.connections.connectMs.p95}`)}
${row("messages sent / acked / delivered", `${r.messages.sent} / ${r.messages.acked} / ${r.messages.delivered}`)}${row("delivery ratio", r.messages.deliveryRatio)}${row("duplicates", r.messages.duplicates)}
${row("latency ms p50 / p95 / p99 / max", `${r.latencyMs.p50} / ${r.latencyMs.p95} / ${r.latencyMs.p99} / ${r.latencyMs.max}`)}${row("throughput sent / delivered per s", `${r.throughput.sentPerSecond} / ${r.throughput.deliveredPerSecond}`)}
${row("errors", Object.keys(r.errors).length ? Object.entries(r.errors).map(([k, v]) => `${k} x${v}`).join("; ") : "none")}
</table>
${lineChart("Latency over time", [
    { name: "p50", color: "#27c", points: t.map((p) => [p.second, p.p50]) },
    { name: "p99", color: "#c42", points: t.map((p) => [p.second, p.p99]) },
  ], "ms")}
${lineChart("Messages per second", [
    { name: "sent", color: "#888", points: t.map((p) => [p.second, p.sent]) },
    { name: "delivered", color: "#4a7", points: t.map((p) => [p.second, p.delivered]) },
  ], "msg/s")}
${barChart("Latency histogram (ms, upper bound)", r.histogram.map((h) => ({ label: Number.isFinite(h.upToMs) ? `≤${h.upToMs}` : ">10s", value: h.count })))}
</body></html>`;
}
