import type { ConversationRecord, RecipientEvent, StoredEvent } from "@chat/shared/contracts";
import type { DeliveryPublisher } from "@chat/shared";
import { persistMessages, type PersistDeps, type Rejected } from "./persist-messages.ts";
import { storedRecords } from "./stored-records.ts";

export interface SendHandlerDeps extends PersistDeps {
  delivery: DeliveryPublisher;
  /** The `message.stored` topic's name. */
  storedTopic: string;
  onPersisted?: (count: number) => void;
}

/**
 * `message.send` -> MongoDB -> one delivery event per participant (the sender's devices
 * included) and one `message.stored` record per stored message, edit and delete, durable in
 * Kafka. Only then may the offsets move.
 */
export function createSendHandler(deps: SendHandlerDeps) {
  return async (records: ConversationRecord[], origins: string[]): Promise<Rejected[]> => {
    const { toDeliver, rejected } = await persistMessages(records, origins, deps);
    const events: RecipientEvent[] = [];
    const storedEvents: StoredEvent[] = [];
    let messages = 0;
    for (const { entry, participantIds } of toDeliver) {
      if (entry.kind === "message") {
        messages++;
        storedEvents.push({ v: 1, type: "message", participantIds, message: entry.message });
        for (const recipientId of participantIds) events.push({ v: 1, type: "message", recipientId, message: entry.message });
      } else {
        storedEvents.push({ v: 1, type: "change", participantIds, change: entry.change, message: entry.message });
        for (const recipientId of participantIds) events.push({ v: 1, type: "change", recipientId, change: entry.change });
      }
    }
    await deps.delivery.publish(events, storedRecords(deps.storedTopic, storedEvents));
    deps.onPersisted?.(messages);
    return rejected;
  };
}
