/**
 * FUTURE_TOLERANCE_MS is how far past this host's clock a backup's time may be before it is called
 * future-dated: hosts' clocks drift a little, but a backup is never taken minutes from now.
 */
export const FUTURE_TOLERANCE_MS = 5 * 60_000;

/**
 * isFutureDated says whether a backup time lies more than FUTURE_TOLERANCE_MS after `now`: a
 * skewed clock's backup, or a name planted in the bucket (`20991231T235959Z-…`) to pass for the
 * newest forever. Such a backup is never counted as the newest, for monitoring or anything else.
 */
export function isFutureDated(createdAt: Date, now: Date = new Date()): boolean {
  return createdAt.getTime() > now.getTime() + FUTURE_TOLERANCE_MS;
}
