/**
 * withTimeout settles as promise does, or rejects with "timeout" after ms: for answers that must
 * come even when a dependency does not (health, metrics, heartbeat). The timer is unref'd, so it
 * never keeps a process alive.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref())]);
}
