/** How long a gateway remembers a user's newest presence change. */
const REMEMBER_MS = 5 * 60_000;

/**
 * Keeps each user's presence changes in order on this gateway. Two gateways announce a user who
 * leaves one and arrives on the other, and their announcements can reach a contact's gateway in
 * either order (and the events of one change travel on the partitions of their recipients). Each
 * change carries the registry's version, which grows with every change of the user, so a change
 * older than one already handed out here is stale: dropping it leaves contacts with the user's
 * latest state. Every recipient of the newest change still gets it, on its own partition.
 *
 * A user is remembered for five minutes after their newest change; changes that far apart
 * cannot cross.
 */
export function createPresenceOrder(rememberMs = REMEMBER_MS) {
  const newest = new Map<string, { version: number; at: number }>();
  let prunedAt = Date.now();

  function prune(now: number): void {
    prunedAt = now;
    for (const [userId, seen] of newest) if (now - seen.at > rememberMs) newest.delete(userId);
  }

  return {
    /**
     * Whether a change of `userId` at `version` is to be handed out: not older than the newest
     * seen here (the same version is the same change, for another recipient). Without a version
     * (from a gateway that predates them) it always is.
     */
    admit(userId: string, version: number | undefined, now = Date.now()): boolean {
      if (version === undefined) return true;
      if (now - prunedAt > rememberMs) prune(now);
      const seen = newest.get(userId);
      if (seen && seen.version > version) return false;
      if (!seen || seen.version < version) newest.set(userId, { version, at: now });
      return true;
    },
    /** Users remembered now. */
    get size(): number {
      return newest.size;
    },
  };
}

export type PresenceOrder = ReturnType<typeof createPresenceOrder>;
