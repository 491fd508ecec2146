import type { Logger } from "../logger.ts";
import { withTimeout } from "../clients/dependency.ts";
import type { ConnectionRegistry } from "../presence/connection-registry.ts";

export interface RecipientRouterOptions {
  registry: Pick<ConnectionRegistry, "gatewaysOf" | "knownGateways">;
  /**
   * Every gateway that may hold a device, without asking the registry: the gateways whose
   * delivery topics exist in Kafka (each creates its own before it accepts a connection).
   */
  listGateways: () => Promise<string[]>;
  logger?: Logger;
  /** How long a registry read may take before the events go to every gateway instead. @default 1000 */
  timeoutMs?: number;
  /** How often the list of gateways is read again. @default 5000 */
  refreshMs?: number;
  /** Told when routing starts (true) and stops (false) going to every gateway. */
  onDegraded?: (degraded: boolean) => void;
}

/**
 * Where each recipient's events go: the gateways the registry (Redis) lists for them. While the
 * registry does not answer within `timeoutMs` (Redis hung, restarting, out of reach), events go
 * to every gateway instead of waiting for it: each gateway hands an event only to devices it
 * holds, so nothing reaches the wrong user, and every gateway that could hold the recipient gets
 * it, so a device that stays connected misses nothing. The cost is a record per gateway instead
 * of per connected gateway, for as long as the registry is away. The first slow read waits
 * `timeoutMs`; after it, the delivery path does not ask the registry again until a read in the
 * background is answered.
 *
 * Until the list of gateways has been read once there is nothing to fall back on, and routing
 * fails as the registry does: the caller tries again later.
 */
export function createRecipientRouter({ registry, listGateways, logger, timeoutMs = 1000, refreshMs = 5000, onDegraded }: RecipientRouterOptions) {
  let everyGateway: string[] = [];
  let listedAt = Number.NEGATIVE_INFINITY;
  let listing: Promise<void> | undefined;
  /** Set while the registry is away. */
  let awaySince: number | undefined;
  let probing: Promise<void> | undefined;

  /** Reads the list of gateways again in the background when it is `refreshMs` old. */
  function refreshList(): void {
    if (listing || Date.now() - listedAt < refreshMs) return;
    listing = listGateways()
      .then(
        (gateways) => {
          everyGateway = gateways;
          listedAt = Date.now();
        },
        (err: unknown) => logger?.debug({ err }, "list of gateways not read"),
      )
      .finally(() => (listing = undefined));
  }

  /** One registry read in the background at a time while it is away; its answer ends the spell. */
  function probe(): void {
    probing ??= registry
      .knownGateways()
      .then(
        () => {
          if (awaySince === undefined) return;
          logger?.info({ awayMs: Date.now() - awaySince }, "connection registry answers again: deliveries routed by it");
          awaySince = undefined;
          onDegraded?.(false);
        },
        (err: unknown) => logger?.debug({ err }, "connection registry still away"),
      )
      .finally(() => (probing = undefined));
  }

  /** Asks the registry, or while it is away (or does not answer within `timeoutMs`) answers `fallback` from the list of gateways. */
  async function route<T>(read: () => Promise<T>, fallback: (gateways: string[]) => T): Promise<T> {
    refreshList();
    if (awaySince === undefined) {
      try {
        return await withTimeout(read(), timeoutMs, "connection registry read");
      } catch (err) {
        if (everyGateway.length === 0) throw err;
        // Reads that were already waiting fail too: the first one starts the spell.
        if (awaySince === undefined) {
          awaySince = Date.now();
          logger?.warn({ err, gateways: everyGateway.length }, "connection registry not answering: deliveries go to every gateway until it does");
          onDegraded?.(true);
        }
      }
    }
    probe();
    if (everyGateway.length === 0) throw new Error("the connection registry is not answering");
    return fallback(everyGateway);
  }

  return {
    /** The gateways each recipient's events go to (users connected nowhere are absent). */
    gatewaysOf(userIds: string[]): Promise<Map<string, string[]>> {
      return route(
        () => registry.gatewaysOf(userIds),
        (gateways) => new Map(userIds.map((id) => [id, gateways])),
      );
    },
    /** The gateways a broadcast goes to: those the registry knows to be alive. */
    liveGateways(): Promise<string[]> {
      return route(
        () => registry.knownGateways(),
        (gateways) => gateways,
      );
    },
  };
}

export type RecipientRouter = ReturnType<typeof createRecipientRouter>;
