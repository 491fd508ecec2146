/*
 * The JSON the operator console's API answers with (`/ops/api/*`). Types only: the page
 * (ops-web/app.ts) imports them too, so both ends of the wire read the same shapes.
 */

import type { AutoMessageStats, PlanCounts } from "../automessages/automessage-counts.ts";

/** One process of the cluster as the console saw it. */
export interface ProcessView {
  name: string;
  url: string;
  /** The `service` label of its metrics (gateway, auth, message, scheduler, worker); null when unreachable. */
  kind: string | null;
  /** `/readyz` answered 200. */
  ready: boolean;
  /** `/readyz` status code; null when it did not answer. */
  status: number | null;
  /** `/readyz` checks (dependency → "ok" or why not). */
  checks: Record<string, string>;
  /** The cluster's release (every process runs the same checkout) and this process's Node. */
  version: string | null;
  node: string | null;
  startedAt: string | null;
  uptimeSeconds: number | null;
  /** Gateways only; each figure null when the gateway does not export it. */
  gateway?: { devices: number | null; users: number | null; deliveredPerSecond: number | null };
  /** Why it could not be read (timeout, refused, ...). */
  error?: string;
}

export interface ClusterView {
  at: string;
  processes: ProcessView[];
}

export interface BrokersView {
  clusterId: string;
  controller: number | null;
  brokers: Array<{ nodeId: number; host: string; port: number }>;
}

export interface PartitionView {
  partition: number;
  leader: number;
  replicas: number[];
  isr: number[];
  offline: number[];
  underReplicated: boolean;
}

export interface TopicView {
  name: string;
  partitions: PartitionView[];
  /** Partitions with fewer in-sync replicas than replicas. */
  underReplicated: number;
}

export interface GroupPartitionLag {
  partition: number;
  /** Null: the group has not committed an offset on this partition yet. */
  committed: string | null;
  high: string;
  /** high − committed; with no commit, high − low (everything retained is still ahead of it). */
  lag: number;
}

export interface ConsumerGroupView {
  groupId: string;
  state: string;
  protocol: string;
  members: Array<{ memberId: string; clientId: string; host: string; assignments: Array<{ topic: string; partitions: number[] }> }>;
  topics: Array<{ topic: string; partitions: GroupPartitionLag[]; lag: number }>;
  lag: number;
}

export interface RecordView {
  partition: number;
  offset: string;
  timestamp: string;
  key: string | null;
  headers: Record<string, string | string[]>;
  /** The value parsed as JSON when it parses, else its utf8 text; null for a tombstone. */
  value: unknown;
}

export interface RecordsView {
  topic: string;
  limit: number;
  records: RecordView[];
  /** True when the 5 s budget ran out before every partition was read to its high watermark. */
  partial: boolean;
}

export interface AutoMessagesView {
  plans: PlanCounts[];
  totals: AutoMessageStats;
  queues: { main: number; retrying: number; dlq: number };
}

export interface DeadLetterView {
  automessageId: string | null;
  senderId: string | null;
  recipientId: string | null;
  content: string | null;
  reason: string | null;
  attempts: number | null;
  failedAt: string | null;
}

export interface DeadLettersView {
  /** Messages in the DLQ when it was read. */
  depth: number;
  records: DeadLetterView[];
}

export interface RetryResult {
  retried: string[];
  notFound: string[];
}

/** `[unix seconds, value]`; value null when that sample had nothing to compute from. */
export type Point = [number, number | null];

export interface RatesView {
  source: "prometheus" | "processes";
  /** Messages per second. */
  sent: Point[];
  persisted: Point[];
  delivered: Point[];
  /** Delivery latency quantiles, seconds. */
  p50: Point[];
  p95: Point[];
  p99: Point[];
}
