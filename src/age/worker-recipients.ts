import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../logging/create-logger.js';

// A worker refreshes its entry every HEARTBEAT_MS; an entry not refreshed for TTL_MS is dead.
const HEARTBEAT_MS = 10_000;
const TTL_MS = 30_000;

/** workerRecipientsKey is the sorted set of live workers' public keys: member `{age1…}.{tag}`, score its expiry (Redis time, ms). */
export const workerRecipientsKey = (queuePrefix: string): string => `${queuePrefix}:worker-recipients`;

/**
 * recipientTag authenticates a published public key with the master key, so that someone who can
 * write to Redis but holds no MASTER_KEY cannot slip in a key of their own and receive passphrases.
 */
export function recipientTag(masterKey: Buffer, recipient: string): string {
  const key = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'snapkeep-worker-recipient', 32));
  return createHmac('sha256', key).update(recipient).digest('hex');
}

/** RecipientPublication is a worker's entry in Redis, refreshed until stop() removes it. */
export interface RecipientPublication {
  stop(): Promise<void>;
}

export interface PublishRecipientOptions {
  queuePrefix: string;
  masterKey: Buffer;
  recipient: string;
  logger: Logger;
  heartbeatMs?: number;
  ttlMs?: number;
}

/**
 * publishRecipient announces a worker's ephemeral public key in Redis with a heartbeat: producers
 * seal passphrases to every live key, so whichever worker takes the job can open it.
 */
export async function publishRecipient(redis: Redis, options: PublishRecipientOptions): Promise<RecipientPublication> {
  const key = workerRecipientsKey(options.queuePrefix);
  const member = `${options.recipient}.${recipientTag(options.masterKey, options.recipient)}`;
  const ttlMs = options.ttlMs ?? TTL_MS;
  const beat = async (): Promise<void> => {
    const now = await redisNowMs(redis);
    await redis.multi().zadd(key, now + ttlMs, member).pexpire(key, ttlMs).exec();
  };
  await beat();
  let pending = false;
  const timer = setInterval(() => {
    // With Redis away a beat waits for the reconnection: never stack them up.
    if (pending) return;
    pending = true;
    beat().catch((error: unknown) => {
      options.logger.warn('could not refresh this worker\'s passphrase key in Redis', { error: error instanceof Error ? error.message : String(error) });
    }).finally(() => { pending = false; });
  }, options.heartbeatMs ?? HEARTBEAT_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await redis.zrem(key, member).catch(() => undefined);
    },
  };
}

/**
 * liveWorkerRecipients lists the public keys of workers alive now whose tag one of the master keys
 * (MASTER_KEY, then MASTER_KEY_PREVIOUS: a rotation in progress) vouches for, dropping dead entries.
 */
export async function liveWorkerRecipients(redis: Redis, options: { queuePrefix: string; masterKeys: readonly Buffer[] }): Promise<string[]> {
  const key = workerRecipientsKey(options.queuePrefix);
  const now = await redisNowMs(redis);
  await redis.zremrangebyscore(key, '-inf', now);
  const members = await redis.zrangebyscore(key, `(${now}`, '+inf');
  const live: string[] = [];
  for (const member of members) {
    const dot = member.lastIndexOf('.');
    if (dot <= 0) continue;
    const recipient = member.slice(0, dot);
    const tag = Buffer.from(member.slice(dot + 1), 'hex');
    const vouched = options.masterKeys.some((masterKey) => {
      const expected = Buffer.from(recipientTag(masterKey, recipient), 'hex');
      return expected.length === tag.length && timingSafeEqual(expected, tag);
    });
    if (vouched) live.push(recipient);
  }
  return live;
}

/** redisNowMs is Redis's own clock, so producers and workers on skewed hosts agree on expiry. */
async function redisNowMs(redis: Redis): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}
