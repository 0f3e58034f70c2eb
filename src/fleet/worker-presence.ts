import type { Redis } from 'ioredis';
import { canonicalJson, deriveSigningKey, macMatches, macOf } from '../crypto/signing-keys.js';
import type { Logger } from '../logging/create-logger.js';
import { FLEET_HOST, SOURCE_NAME } from '../config/sources-file.js';

// As the passphrase keys' heartbeat (src/age/worker-recipients.ts): refreshed every 10 s, dead after 30 s.
const HEARTBEAT_MS = 10_000;
const TTL_MS = 30_000;

/** WorkerPresence is what a live worker announces: its SNAPKEEP_HOST and the sources it serves. */
export interface WorkerPresence {
  host: string;
  sources: string[];
}

/** fleetWorkersKey is the sorted set of live workers: member `{base64url JSON}.{mac}`, score its expiry (Redis time, ms). */
export const fleetWorkersKey = (queuePrefix: string): string => `${queuePrefix}:fleet-workers`;

const presenceText = (p: WorkerPresence): string => canonicalJson({ v: 1, host: p.host, sources: p.sources });

/**
 * publishPresence announces a worker with a heartbeat, authenticated under the master key: the API
 * tells which sources have a live worker from it, and someone who can write to Redis but holds no
 * MASTER_KEY cannot make a dead host look alive (a copy of a live entry dies with its expiry).
 */
export async function publishPresence(redis: Redis, options: {
  queuePrefix: string; masterKey: Buffer; presence: WorkerPresence; logger: Logger; heartbeatMs?: number; ttlMs?: number;
}): Promise<{ stop(): Promise<void> }> {
  const key = fleetWorkersKey(options.queuePrefix);
  const text = presenceText(options.presence);
  const member = `${Buffer.from(text).toString('base64url')}.${macOf(deriveSigningKey(options.masterKey, 'fleet'), text)}`;
  const ttlMs = options.ttlMs ?? TTL_MS;
  const beat = async (): Promise<void> => {
    const now = await redisNowMs(redis);
    // Entries of workers that died without withdrawing theirs (SIGKILL) go with every beat.
    await redis.multi().zremrangebyscore(key, '-inf', now).zadd(key, now + ttlMs, member).pexpire(key, ttlMs).exec();
  };
  await beat();
  let pending = false;
  const timer = setInterval(() => {
    if (pending) return;
    pending = true;
    beat().catch((error: unknown) => {
      options.logger.warn('could not refresh this worker\'s presence in Redis', { error: error instanceof Error ? error.message : String(error) });
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

/** livePresences are the workers alive now whose entry one of the master keys vouches for. */
export async function livePresences(redis: Redis, options: { queuePrefix: string; masterKeys: readonly Buffer[] }): Promise<WorkerPresence[]> {
  const key = fleetWorkersKey(options.queuePrefix);
  const now = await redisNowMs(redis);
  const members = await redis.zrangebyscore(key, `(${now}`, '+inf');
  const keys = options.masterKeys.map((k) => deriveSigningKey(k, 'fleet'));
  const live: WorkerPresence[] = [];
  for (const member of members) {
    const presence = readMember(member, keys);
    if (presence) live.push(presence);
  }
  return live;
}

/** readMember parses and authenticates one entry; anything malformed or unvouched is undefined. */
function readMember(member: string, keys: readonly Buffer[]): WorkerPresence | undefined {
  const dot = member.lastIndexOf('.');
  if (dot <= 0 || member.length > 64 * 1024) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(member.slice(0, dot), 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const p = parsed as { v?: unknown; host?: unknown; sources?: unknown };
  if (p.v !== 1 || typeof p.host !== 'string' || !FLEET_HOST.test(p.host) || !Array.isArray(p.sources)) return undefined;
  if (!p.sources.every((s): s is string => typeof s === 'string' && SOURCE_NAME.test(s))) return undefined;
  const presence: WorkerPresence = { host: p.host, sources: p.sources };
  const text = presenceText(presence);
  return keys.some((k) => macMatches(k, text, member.slice(dot + 1))) ? presence : undefined;
}

/** redisNowMs is Redis's own clock, so workers and API processes on skewed hosts agree on expiry. */
async function redisNowMs(redis: Redis): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}
