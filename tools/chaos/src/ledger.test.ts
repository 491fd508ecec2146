import { describe, expect, it } from "vitest";
import { MessageLedger, type ReceivedMessage } from "./ledger.ts";

const SENDER = 0;
const RECIPIENT = 1;
const STRANGER = 2;

function setup() {
  const ledger = new MessageLedger("run1", () => "conv");
  const message = (n: number, over: Partial<ReceivedMessage> = {}): ReceivedMessage => ({
    messageId: `m${n}`,
    senderId: "u0",
    clientMsgId: ledger.clientMsgId(n),
    conversationId: "conv",
    seq: n + 1,
    ...over,
  });
  return { ledger, message };
}

describe("the message ledger", () => {
  it("counts an acknowledged message never delivered to its recipient as lost, even if the sender saw its echo", () => {
    const { ledger, message } = setup();
    const a = ledger.create(0, SENDER, RECIPIENT, 1000);
    const b = ledger.create(0, SENDER, RECIPIENT, 1000);
    const c = ledger.create(0, SENDER, RECIPIENT, 1000);
    for (const n of [a, b, c]) ledger.markSent(n, 1000);
    ledger.recordAck(a, "m0", 1010);
    ledger.recordAck(b, "m1", 1010);
    expect(ledger.recordReception(RECIPIENT, message(a), 1020)).toBe("delivered");
    expect(ledger.recordReception(SENDER, message(b), 1020)).toBe("echo");
    // c was never acknowledged: delivered or not, it is not lost.
    const r = ledger.report();
    expect(r).toMatchObject({ sent: 3, acknowledged: 2, unacknowledged: 1, delivered: 1, lost: 1 });
    expect(r.lostSamples).toEqual([{ clientMsgId: "run1-1", messageId: "m1", conversationId: "conv", ackAt: 1010 }]);
    expect(ledger.counts()).toMatchObject({ pendingAcks: 1, undelivered: 1 });
  });

  it("counts a delivery that precedes its ack, and keeps the first ack of resends", () => {
    const { ledger, message } = setup();
    const n = ledger.create(0, SENDER, RECIPIENT, 1000);
    ledger.markSent(n, 1000);
    ledger.recordAckFailure("ACK_TIMEOUT", 16_000);
    ledger.markSent(n, 16_500);
    ledger.recordReception(RECIPIENT, message(n), 16_600);
    expect(ledger.recordAck(n, "m0", 16_700)).toBe(true);
    expect(ledger.recordAck(n, "m0", 17_000)).toBe(false);
    const r = ledger.report();
    expect(r).toMatchObject({ acknowledged: 1, delivered: 1, lost: 0, ackFailures: { ACK_TIMEOUT: 1 }, maxAckMs: 15_700 });
    expect(ledger.counts()).toMatchObject({ pendingAcks: 0, undelivered: 0 });
  });

  it("tells raw duplicates (same messageId again) from duplicates shown (another messageId or seq for one send)", () => {
    const { ledger, message } = setup();
    const n = ledger.create(0, SENDER, RECIPIENT, 1000);
    ledger.recordAck(n, "m0", 1010);
    ledger.recordReception(RECIPIENT, message(n), 1020);
    expect(ledger.recordReception(RECIPIENT, message(n), 1030)).toBe("again");
    ledger.recordReception(SENDER, message(n), 1020);
    expect(ledger.report()).toMatchObject({ rawDuplicates: 1, duplicatesShown: 0 });

    // The same send stored twice: a second messageId, then a second seq.
    ledger.recordReception(RECIPIENT, message(n, { messageId: "m0-bis", seq: 9 }), 1040);
    ledger.recordReception(SENDER, message(n, { messageId: "m0-bis", seq: 9 }), 1040);
    ledger.recordReception(RECIPIENT, message(n, { seq: 10 }), 1050);
    expect(ledger.report()).toMatchObject({ rawDuplicates: 1, duplicatesShown: 2, delivered: 1 });
    ledger.recordReception(RECIPIENT, message(n, { messageId: "m0-bis", seq: 9 }), 1060);
    expect(ledger.report()).toMatchObject({ rawDuplicates: 2, duplicatesShown: 2 });
  });

  it("accounts for messages it did not send (AutoMessages) by sender and clientMsgId", () => {
    const { ledger } = setup();
    const auto: ReceivedMessage = { messageId: "a1", senderId: "u9", clientMsgId: "auto-1", conversationId: "c9", seq: 1 };
    expect(ledger.recordReception(RECIPIENT, auto, 1000)).toBe("other");
    ledger.recordReception(RECIPIENT, auto, 1001);
    ledger.recordReception(SENDER, auto, 1001);
    expect(ledger.report()).toMatchObject({ otherMessages: 1, rawDuplicates: 1, duplicatesShown: 0 });
    ledger.recordReception(RECIPIENT, { ...auto, messageId: "a2", seq: 2 }, 1002);
    expect(ledger.report()).toMatchObject({ otherMessages: 1, duplicatesShown: 1 });
  });

  it("flags a load message received by someone outside the pair", () => {
    const { ledger, message } = setup();
    const n = ledger.create(0, SENDER, RECIPIENT, 1000);
    expect(ledger.recordReception(STRANGER, message(n), 1010)).toBe("misrouted");
    expect(ledger.report()).toMatchObject({ misrouted: 1, delivered: 0 });
  });

  it("reports a window: messages by creation time, events and pauses by when they happened", () => {
    const { ledger, message } = setup();
    const times = [1000, 2000, 3000, 8000, 9000];
    const ns = times.map((t) => ledger.create(0, SENDER, RECIPIENT, t));
    ns.forEach((n, i) => {
      ledger.markSent(n, times[i]!);
      ledger.recordAck(n, `m${n}`, times[i]! + 10 * (i + 1));
      ledger.recordReception(RECIPIENT, message(n), times[i]! + 100);
    });
    ledger.recordAckFailure("KAFKA_UNAVAILABLE", 2500);
    ledger.recordAckFailure("KAFKA_UNAVAILABLE", 8500);
    expect(ledger.report()).toMatchObject({ sent: 5, delivered: 5, lost: 0, longestPauseMs: 5000, ackP50Ms: 30, maxAckMs: 50 });
    expect(ledger.report({ from: 1500, to: 3500 })).toMatchObject({
      sent: 2,
      acknowledged: 2,
      delivered: 2,
      ackFailures: { KAFKA_UNAVAILABLE: 1 },
      longestPauseMs: 1000,
      ackP50Ms: 20,
      maxAckMs: 30,
    });
  });

  it("finds when late deliveries stopped", () => {
    const { ledger, message } = setup();
    const onTime = ledger.create(0, SENDER, RECIPIENT, 1000);
    const late = ledger.create(0, SENDER, RECIPIENT, 2000);
    const afterFault = ledger.create(0, SENDER, RECIPIENT, 9000);
    ledger.recordReception(RECIPIENT, message(onTime), 1050);
    ledger.recordReception(RECIPIENT, message(late), 8000);
    ledger.recordReception(RECIPIENT, message(afterFault), 9050);
    expect(ledger.lastLateDelivery(1500, 2000)).toBe(8000);
    expect(ledger.lastLateDelivery(8500, 2000)).toBeUndefined();
  });

  it("parses only its own clientMsgIds", () => {
    const { ledger } = setup();
    ledger.create(0, SENDER, RECIPIENT, 1);
    expect(ledger.parse("run1-0")).toBe(0);
    expect(ledger.parse("run1-1")).toBeUndefined();
    expect(ledger.parse("run2-0")).toBeUndefined();
    expect(ledger.parse("run1-x")).toBeUndefined();
  });

  it("grows past its initial capacity", () => {
    const { ledger } = setup();
    for (let i = 0; i < 5000; i++) {
      const n = ledger.create(i % 3, SENDER, RECIPIENT, 1000 + i);
      ledger.markSent(n, 1000 + i);
      ledger.recordAck(n, `m${i}`, 2000 + i);
    }
    expect(ledger.report()).toMatchObject({ sent: 5000, acknowledged: 5000, lost: 5000, maxAckMs: 1000 });
  });
});
