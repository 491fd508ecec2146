import { randomInt } from "node:crypto";

/** Fisher-Yates with crypto randomness: every permutation equally likely. Shuffles in place. */
export function shuffleInPlace<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    const tmp = items[i]!;
    items[i] = items[j]!;
    items[j] = tmp;
  }
  return items;
}

export interface Pair {
  senderId: string;
  recipientId: string;
}

/**
 * Pairs shuffled users two by two: (u0 -> u1), (u2 -> u3), ... With an odd count the user
 * left over sends to the first user of the shuffle, so nobody is skipped and nobody is
 * paired with themselves; that first user receives twice. Fewer than two users: no pairs.
 */
export function pairUp(shuffled: string[]): Pair[] {
  const pairs: Pair[] = [];
  for (let i = 0; i + 1 < shuffled.length; i += 2) pairs.push({ senderId: shuffled[i]!, recipientId: shuffled[i + 1]! });
  if (shuffled.length % 2 === 1 && shuffled.length >= 3) {
    pairs.push({ senderId: shuffled[shuffled.length - 1]!, recipientId: shuffled[0]! });
  }
  return pairs;
}
