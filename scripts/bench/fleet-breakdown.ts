/**
 * What one GET /api/sources costs without HTTP: the two reads the route makes (SourceStatus.read:
 * HGETALL of the status hash, HKDF, an HMAC per record; livePresences: TIME, ZRANGEBYSCORE, HKDF,
 * an HMAC per worker), each alone and their Redis commands and crypto apart, timed in this process
 * with snapkeep's own functions against the round's Redis.
 */
import type { Redis } from 'ioredis';
import { canonicalJson, deriveSigningKey, macMatches } from '../../src/crypto/signing-keys.js';
import { SourceStatus, sourceStatusKey } from '../../src/fleet/source-status.js';
import { fleetWorkersKey, livePresences } from '../../src/fleet/worker-presence.js';
import { percentile } from './fleet-probes.js';

/** ReadBreakdown: per part, the median and p99 over the repetitions, in ms. */
export type ReadBreakdown = Record<string, { p50: number; p99: number }>;

async function timeEach(n: number, fn: () => unknown): Promise<{ p50: number; p99: number }> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  return { p50: percentile(ms, 50), p99: percentile(ms, 99) };
}

export async function measureSourcesRead(redis: Redis, queuePrefix: string, masterKeyHex: string, n: number): Promise<ReadBreakdown> {
  const masterKey = Buffer.from(masterKeyHex, 'hex');
  const status = new SourceStatus(redis, queuePrefix, [masterKey]);
  const raw = await redis.hgetall(sourceStatusKey(queuePrefix));
  const records = Object.entries(raw).map(([field, value]) => {
    const [source, event] = field.split('|');
    const parsed = JSON.parse(value) as { at: string; mac: string };
    return { text: canonicalJson({ v: 1, source, event, at: parsed.at }), mac: parsed.mac };
  });
  const key = deriveSigningKey(masterKey, 'fleet');
  // Warm up the connection and the JIT as a long-running API is.
  for (let i = 0; i < 50; i++) await Promise.all([status.read(), livePresences(redis, { queuePrefix, masterKeys: [masterKey] })]);
  return {
    'both reads, in parallel (as the route)': await timeEach(n, () => Promise.all([status.read(), livePresences(redis, { queuePrefix, masterKeys: [masterKey] })])),
    'SourceStatus.read()': await timeEach(n, () => status.read()),
    'livePresences()': await timeEach(n, () => livePresences(redis, { queuePrefix, masterKeys: [masterKey] })),
    [`HGETALL of the status hash (${records.length} fields)`]: await timeEach(n, () => redis.hgetall(sourceStatusKey(queuePrefix))),
    'TIME + ZRANGEBYSCORE of the workers': await timeEach(n, async () => { await redis.time(); await redis.zrangebyscore(fleetWorkersKey(queuePrefix), '-inf', '+inf'); }),
    'PING (a round trip)': await timeEach(n, () => redis.ping()),
    'HKDF (deriveSigningKey), once': await timeEach(n, () => deriveSigningKey(masterKey, 'fleet')),
    [`HMAC check of ${records.length} records`]: await timeEach(n, () => { for (const r of records) macMatches(key, r.text, r.mac); }),
  };
}
