const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90s", "15m", "24h", "2d", "500ms" or a plain number of milliseconds; undefined when not one. */
export function parseDuration(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!match) return undefined;
  const ms = Number(match[1]) * UNITS[match[2] ?? "ms"]!;
  return Number.isFinite(ms) && ms > 0 ? Math.round(ms) : undefined;
}
