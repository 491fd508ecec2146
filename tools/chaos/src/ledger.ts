import { countBy, longestGap, percentile } from "./stats.ts";

/** A time window (epoch ms, both ends included). */
export interface TimeWindow {
  from: number;
  to: number;
}

/** Figures of a chaos load, over a window or the whole run. */
export interface ChaosReport {
  window: TimeWindow;
  /** Messages the load created (each its own clientMsgId), by creation time in the window. */
  sent: number;
  /** Of those, acknowledged `{ ok: true }` (possibly after resends). */
  acknowledged: number;
  /** Of those, never acknowledged (still being resent when the report was made). */
  unacknowledged: number;
  /** Of those, delivered to their recipient (acknowledged or not). */
  delivered: number;
  /** Acknowledged, never delivered to the recipient. */
  lost: number;
  /** Up to 10 lost messages, for a look in the logs and the database. */
  lostSamples: Array<{ clientMsgId: string; messageId: string; conversationId: string; ackAt: number }>;
  /** Extra copies of one send (same senderId + clientMsgId) with another messageId or seq, by the time they arrived. */
  duplicatesShown: number;
  /** Receptions of a message (same messageId and seq) by a device that already had it, by the time they arrived. */
  rawDuplicates: number;
  /** Load messages received by a user who is not in the conversation. */
  misrouted: number;
  /** `{ ok: false }` acks by `error.code`, `ACK_TIMEOUT` (none in time) and `DISCONNECTED` (socket closed before the ack). */
  ackFailures: Record<string, number>;
  /** Longest gap between consecutive deliveries to recipients, cluster-wide, within the window. */
  longestPauseMs: number;
  /** From the first emit of a message to its first `{ ok: true }`. */
  ackP50Ms: number;
  ackP99Ms: number;
  maxAckMs: number;
  /** Distinct messages received that the load did not send (AutoMessages, other clients). */
  otherMessages: number;
}

/** Counters at one moment. */
export interface LedgerCounts {
  created: number;
  acknowledged: number;
  /** Created and not acknowledged yet. */
  pendingAcks: number;
  delivered: number;
  /** Acknowledged and not delivered to the recipient yet. */
  undelivered: number;
  duplicatesShown: number;
  rawDuplicates: number;
  misrouted: number;
  ackFailures: number;
  otherMessages: number;
}

/** What the ledger makes of one `message_received`. */
export type Reception = "delivered" | "echo" | "again" | "misrouted" | "other";

/** A received message, as far as the ledger cares. */
export interface ReceivedMessage {
  messageId: string;
  senderId: string;
  clientMsgId: string;
  conversationId: string;
  seq: number;
}

type Typed = Float64Array | Int32Array | Uint8Array;

function grown<T extends Typed>(array: T, size: number): T {
  if (size <= array.length) return array;
  const bigger = new (array.constructor as new (length: number) => T)(Math.max(size, array.length * 2));
  bigger.set(array);
  return bigger;
}

interface OtherMessage {
  messageId: string;
  seq: number;
  /** Distinct (messageId, seq) copies besides the first. */
  variants: Set<string>;
  /** Copies per receiver + messageId + seq. */
  copies: Map<string, number>;
}

/**
 * The books of a chaos load: every message the load sends, indexed by a number carried in
 * its clientMsgId (`<runId>-<n>`), in typed columns plus its messageId (some 200 bytes a
 * message, measured: 20 minutes at 300 msg/s is about 70 MB), and what each device received.
 *
 * Times are epoch milliseconds; 0 means "not yet".
 */
export class MessageLedger {
  private size = 0;
  private createdAt = new Float64Array(1024);
  private firstSentAt = new Float64Array(1024);
  private ackAt = new Float64Array(1024);
  private deliveredAt = new Float64Array(1024);
  private pairOf = new Int32Array(1024);
  private senderOf = new Int32Array(1024);
  private recipientOf = new Int32Array(1024);
  /** The first seq any device received it with (0: none yet). */
  private seqOf = new Int32Array(1024);
  /** Copies of the canonical (messageId, seq) at the recipient and at the sender's own device, saturating at 255. */
  private recipientCopies = new Uint8Array(1024);
  private senderCopies = new Uint8Array(1024);
  /** The first messageId known for it (from the ack or a reception). */
  private readonly messageIds: Array<string | undefined> = [];
  /** Divergent copies of a send: the other (messageId, seq) pairs shown, and by which side. */
  private readonly variants = new Map<number, { shown: Set<string>; seenBy: Set<string> }>();
  private readonly others = new Map<string, OtherMessage>();

  private acknowledged = 0;
  private delivered = 0;
  private undelivered = 0;
  private readonly failureAt: number[] = [];
  private readonly failureCode: number[] = [];
  private readonly codes: string[] = [];
  private readonly rawDuplicateAt: number[] = [];
  private readonly duplicateShownAt: number[] = [];
  private readonly misroutedAt: number[] = [];

  constructor(
    /** Prefix of this load's clientMsgIds: `<runId>-<n>`. */
    readonly runId: string,
    /** conversationId by pair index. */
    private readonly conversationOf: (pair: number) => string,
  ) {}

  /** Books a new message of `pair` from `sender` to `recipient` (device indexes); returns its number. */
  create(pair: number, sender: number, recipient: number, at: number): number {
    const n = this.size++;
    if (this.size > this.createdAt.length) {
      const need = this.size;
      this.createdAt = grown(this.createdAt, need);
      this.firstSentAt = grown(this.firstSentAt, need);
      this.ackAt = grown(this.ackAt, need);
      this.deliveredAt = grown(this.deliveredAt, need);
      this.pairOf = grown(this.pairOf, need);
      this.senderOf = grown(this.senderOf, need);
      this.recipientOf = grown(this.recipientOf, need);
      this.seqOf = grown(this.seqOf, need);
      this.recipientCopies = grown(this.recipientCopies, need);
      this.senderCopies = grown(this.senderCopies, need);
    }
    this.createdAt[n] = at;
    this.pairOf[n] = pair;
    this.senderOf[n] = sender;
    this.recipientOf[n] = recipient;
    this.messageIds.push(undefined);
    return n;
  }

  clientMsgId(n: number): string {
    return `${this.runId}-${n}`;
  }

  /** The message number of one of this load's clientMsgIds, or undefined. */
  parse(clientMsgId: string): number | undefined {
    if (!clientMsgId.startsWith(`${this.runId}-`)) return undefined;
    const n = Number(clientMsgId.slice(this.runId.length + 1));
    return Number.isInteger(n) && n >= 0 && n < this.size ? n : undefined;
  }

  conversationIdOf(n: number): string {
    return this.conversationOf(this.pairOf[n]!);
  }

  senderIndex(n: number): number {
    return this.senderOf[n]!;
  }

  isAcked(n: number): boolean {
    return this.ackAt[n]! > 0;
  }

  markSent(n: number, at: number): void {
    if (this.firstSentAt[n] === 0) this.firstSentAt[n] = at;
  }

  /** `{ ok: true }` for message n; later acks of resends change nothing. @returns whether it was the first */
  recordAck(n: number, messageId: string, at: number): boolean {
    if (this.ackAt[n]! > 0) return false;
    this.ackAt[n] = at;
    this.acknowledged++;
    this.messageIds[n] ??= messageId;
    if (this.deliveredAt[n] === 0) this.undelivered++;
    return true;
  }

  /** A send that did not get `{ ok: true }`: an error code, `ACK_TIMEOUT` or `DISCONNECTED`. */
  recordAckFailure(code: string, at: number): void {
    let index = this.codes.indexOf(code);
    if (index < 0) index = this.codes.push(code) - 1;
    this.failureAt.push(at);
    this.failureCode.push(index);
  }

  /** One `message_received` (or history page entry) on device `receiver` (a device index, as in `create`). */
  recordReception(receiver: number, message: ReceivedMessage, at: number): Reception {
    const n = this.parse(message.clientMsgId);
    if (n === undefined) {
      this.recordOther(receiver, message, at);
      return "other";
    }
    const side = receiver === this.recipientOf[n] ? "r" : receiver === this.senderOf[n] ? "s" : undefined;
    if (!side) {
      this.misroutedAt.push(at);
      return "misrouted";
    }
    this.messageIds[n] ??= message.messageId;
    if (this.seqOf[n] === 0) this.seqOf[n] = message.seq;

    let first: boolean;
    if (message.messageId === this.messageIds[n] && message.seq === this.seqOf[n]) {
      const copies = side === "r" ? this.recipientCopies : this.senderCopies;
      first = copies[n] === 0;
      if (copies[n]! < 255) copies[n]!++;
    } else {
      let variants = this.variants.get(n);
      if (!variants) this.variants.set(n, (variants = { shown: new Set(), seenBy: new Set() }));
      const copy = `${message.messageId}|${message.seq}`;
      if (!variants.shown.has(copy)) {
        variants.shown.add(copy);
        this.duplicateShownAt.push(at);
      }
      const sideCopy = `${side}|${copy}`;
      first = !variants.seenBy.has(sideCopy);
      variants.seenBy.add(sideCopy);
    }
    if (!first) this.rawDuplicateAt.push(at);

    if (side === "s") return first ? "echo" : "again";
    if (this.deliveredAt[n] === 0) {
      this.deliveredAt[n] = at;
      this.delivered++;
      if (this.ackAt[n]! > 0) this.undelivered--;
      return "delivered";
    }
    return "again";
  }

  private recordOther(receiver: number, message: ReceivedMessage, at: number): void {
    const key = `${message.senderId}\u0000${message.clientMsgId}`;
    let known = this.others.get(key);
    if (!known) {
      known = { messageId: message.messageId, seq: message.seq, variants: new Set(), copies: new Map() };
      this.others.set(key, known);
    }
    const copy = `${message.messageId}|${message.seq}`;
    if ((message.messageId !== known.messageId || message.seq !== known.seq) && !known.variants.has(copy)) {
      known.variants.add(copy);
      this.duplicateShownAt.push(at);
    }
    const copyAt = `${receiver}|${copy}`;
    const copies = (known.copies.get(copyAt) ?? 0) + 1;
    known.copies.set(copyAt, copies);
    if (copies > 1) this.rawDuplicateAt.push(at);
  }

  counts(): LedgerCounts {
    return {
      created: this.size,
      acknowledged: this.acknowledged,
      pendingAcks: this.size - this.acknowledged,
      delivered: this.delivered,
      undelivered: this.undelivered,
      duplicatesShown: this.duplicateShownAt.length,
      rawDuplicates: this.rawDuplicateAt.length,
      misrouted: this.misroutedAt.length,
      ackFailures: this.failureAt.length,
      otherMessages: this.others.size,
    };
  }

  /**
   * Figures over a window: message figures (sent, acknowledged, delivered, lost, ack
   * latencies) for the messages created in it, event figures (duplicates, failures,
   * pauses) for what happened in it. Without a window: everything so far.
   */
  report(window?: TimeWindow): ChaosReport {
    const { from, to } = window ?? { from: 0, to: Date.now() };
    const inWindow = (t: number) => t >= from && t <= to;
    let sent = 0;
    let acknowledged = 0;
    let delivered = 0;
    let lost = 0;
    const lostSamples: ChaosReport["lostSamples"] = [];
    const ackMs: number[] = [];
    const deliveries: number[] = [];
    for (let n = 0; n < this.size; n++) {
      const delivery = this.deliveredAt[n]!;
      if (delivery > 0 && inWindow(delivery)) deliveries.push(delivery);
      if (!inWindow(this.createdAt[n]!)) continue;
      sent++;
      const ack = this.ackAt[n]!;
      if (ack > 0) {
        acknowledged++;
        ackMs.push(ack - (this.firstSentAt[n] || ack));
      }
      if (delivery > 0) delivered++;
      else if (ack > 0) {
        lost++;
        if (lostSamples.length < 10) {
          lostSamples.push({ clientMsgId: this.clientMsgId(n), messageId: this.messageIds[n] ?? "", conversationId: this.conversationIdOf(n), ackAt: ack });
        }
      }
    }
    const sortedAck = Float64Array.from(ackMs).sort();
    const count = (times: number[]) => times.filter(inWindow).length;
    return {
      window: { from, to },
      sent,
      acknowledged,
      unacknowledged: sent - acknowledged,
      delivered,
      lost,
      lostSamples,
      duplicatesShown: count(this.duplicateShownAt),
      rawDuplicates: count(this.rawDuplicateAt),
      misrouted: count(this.misroutedAt),
      ackFailures: countBy(this.failureAt.flatMap((t, i) => (inWindow(t) ? [this.codes[this.failureCode[i]!]!] : []))),
      longestPauseMs: longestGap(deliveries),
      ackP50Ms: percentile(sortedAck, 50),
      ackP99Ms: percentile(sortedAck, 99),
      maxAckMs: sortedAck.length ? sortedAck[sortedAck.length - 1]! : 0,
      otherMessages: this.others.size,
    };
  }

  /**
   * The latest delivery at or after `since` that came more than `lateMs` after its message
   * was created (undefined if none): until then, delivery had not caught up.
   */
  lastLateDelivery(since: number, lateMs: number): number | undefined {
    let latest: number | undefined;
    for (let n = 0; n < this.size; n++) {
      const at = this.deliveredAt[n]!;
      if (at >= since && at - this.createdAt[n]! > lateMs && (latest === undefined || at > latest)) latest = at;
    }
    return latest;
  }
}
