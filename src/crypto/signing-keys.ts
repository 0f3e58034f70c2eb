import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { SnapkeepError } from '../errors.js';

/**
 * What a signing key authenticates. Each purpose is its own HKDF branch of the master key, so a
 * MAC made for one purpose (a job) is never accepted for another (a manifest), and none of them
 * tells anything about the backup key or the master key.
 */
export type SigningPurpose = 'jobs' | 'manifest' | 'stats' | 'metadata' | 'fleet' | 'tokens';

const INFO: Record<SigningPurpose, string> = {
  jobs: 'snapkeep-job-signing-v1',
  manifest: 'snapkeep-manifest-signing-v1',
  stats: 'snapkeep-stats-signing-v1',
  metadata: 'snapkeep-metadata-signing-v1',
  fleet: 'snapkeep-fleet-signing-v1',
  tokens: 'snapkeep-api-tokens-signing-v1',
};

/** deriveSigningKey is HKDF-SHA256(master key, no salt, info per purpose, 32 bytes). */
export function deriveSigningKey(masterKey: Buffer, purpose: SigningPurpose): Buffer {
  if (masterKey.length !== 32) throw new SnapkeepError('invalid_config', `master key must be 32 bytes, got ${masterKey.length}`);
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), INFO[purpose], 32));
}

/** macOf is the hex HMAC-SHA256 of text under key. */
export function macOf(key: Buffer, text: string): string {
  return createHmac('sha256', key).update(text, 'utf8').digest('hex');
}

/** macMatches compares a claimed hex MAC with the right one in constant time; anything malformed is false. */
export function macMatches(key: Buffer, text: string, claimed: unknown): boolean {
  if (typeof claimed !== 'string' || !/^[0-9a-f]{64}$/.test(claimed)) return false;
  return timingSafeEqual(Buffer.from(macOf(key, text), 'hex'), Buffer.from(claimed, 'hex'));
}

/**
 * canonicalJson is JSON with object keys sorted at every level, so that the same value always
 * gives the same bytes to MAC, whatever order a producer or Redis round-trip put its keys in.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}
