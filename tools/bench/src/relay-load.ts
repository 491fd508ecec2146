import { io, type Socket } from "socket.io-client";
import { summarize, type Summary } from "@chat/loadtest/src/stats.ts";

export interface RelayLoadResult {
  rate: number;
  sent: number;
  delivered: number;
  deliveryRatio: number;
  deliveredPerSecond: number;
  latencyMs: Summary;
}

/** The same shape of load as `runLoad`, against the plain relay: pairs across instances, one room each. */
export async function runRelayLoad(
  urls: string[],
  users: number,
  rate: number,
  durationMs: number,
  drainMs = 5000,
  onSending: (event: "start" | "end") => void = () => undefined,
): Promise<RelayLoadResult> {
  const sockets: Socket[] = [];
  const emitAt = new Map<string, number>();
  const latencies: number[] = [];
  let lastDelivered = 0;
  try {
    for (let i = 0; i < users; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, users - i) }, async (_, j) => {
          const idx = i + j;
          const s = io(urls[idx % urls.length]!, { transports: ["websocket"], reconnection: false, forceNew: true });
          await new Promise<void>((resolve, reject) => {
            s.once("connect", () => resolve());
            s.once("connect_error", reject);
          });
          await s.timeout(10_000).emitWithAck("join", `r-${Math.floor(idx / 2)}`);
          s.on("message", (m: { id: string }) => {
            const at = emitAt.get(m.id);
            if (at === undefined) return;
            latencies.push(performance.now() - at);
            lastDelivered = Date.now();
          });
          sockets[idx] = s;
        }),
      );
    }
    const pairs = users / 2;
    onSending("start");
    const start = Date.now();
    let n = 0;
    while (Date.now() - start < durationMs) {
      const due = Math.floor(((Date.now() - start) / 1000) * rate);
      while (n < due) {
        const k = n % pairs;
        const forward = Math.floor(n / pairs) % 2 === 0;
        const from = sockets[forward ? 2 * k : 2 * k + 1]!;
        const id = `m${n}`;
        emitAt.set(id, performance.now());
        from.emit("send", { room: `r-${k}`, id }, () => undefined);
        n++;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    const sendSeconds = (Date.now() - start) / 1000;
    const until = Date.now() + drainMs;
    while (latencies.length < n && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    onSending("end");
    return {
      rate,
      sent: n,
      delivered: latencies.length,
      deliveryRatio: n ? Math.round((latencies.length / n) * 10_000) / 10_000 : 0,
      deliveredPerSecond: Math.round(latencies.length / Math.max(sendSeconds, (lastDelivered - start) / 1000)),
      latencyMs: summarize(latencies),
    };
  } finally {
    for (const s of sockets) s?.close();
  }
}

/** Opens `count` idle connections; resolves with a closer. */
export async function openIdle(url: string, count: number, auth: (i: number) => Record<string, string> | undefined): Promise<() => void> {
  const sockets: Socket[] = [];
  for (let i = 0; i < count; i += 200) {
    await Promise.all(
      Array.from({ length: Math.min(200, count - i) }, async (_, j) => {
        const s = io(url, { transports: ["websocket"], reconnection: false, forceNew: true, auth: auth(i + j) });
        await new Promise<void>((resolve, reject) => {
          s.once("connect", () => resolve());
          s.once("connect_error", reject);
        });
        sockets.push(s);
      }),
    );
  }
  return () => sockets.forEach((s) => s.close());
}
