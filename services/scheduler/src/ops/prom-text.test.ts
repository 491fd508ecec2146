import { describe, expect, it } from "vitest";
import { bucketsOf, histogramQuantile, parsePromText, sumOf } from "./prom-text.ts";

const TEXT = `# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.
# TYPE process_start_time_seconds gauge
process_start_time_seconds{service="gateway"} 1764000000
nodejs_version_info{version="v20.20.2",major="20",minor="20",patch="2",service="gateway"} 1
gateway_messages_delivered_total{service="gateway"} 42
odd{service="gw",note="a \\"quoted\\", b"} 3
chat_delivery_latency_seconds_bucket{le="0.01",service="gateway"} 2
chat_delivery_latency_seconds_bucket{le="0.1",service="gateway"} 6
chat_delivery_latency_seconds_bucket{le="1",service="gateway"} 10
chat_delivery_latency_seconds_bucket{le="+Inf",service="gateway"} 10
`;

describe("parsePromText", () => {
  it("reads samples with their labels, escaped quotes included", () => {
    const m = parsePromText(TEXT);
    expect(sumOf(m, "process_start_time_seconds")).toBe(1764000000);
    expect(m.get("nodejs_version_info")![0]!.labels.version).toBe("v20.20.2");
    expect(m.get("odd")![0]!.labels.note).toBe('a "quoted", b');
    expect(sumOf(m, "gateway_connected_users")).toBeNull();
  });

  it("computes quantiles from cumulative buckets like histogram_quantile", () => {
    const b = bucketsOf(parsePromText(TEXT), "chat_delivery_latency_seconds")!;
    expect(histogramQuantile(0.5, b)).toBeCloseTo(0.01 + 0.09 * (3 / 4));
    expect(histogramQuantile(0.99, b)).toBeCloseTo(0.1 + 0.9 * (3.9 / 4));
    expect(histogramQuantile(0.5, new Map([[0.1, 0], [Infinity, 0]]))).toBeNull();
    expect(histogramQuantile(0.99, new Map([[0.1, 1], [Infinity, 5]]))).toBe(0.1);
  });
});
