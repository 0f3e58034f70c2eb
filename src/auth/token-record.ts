import { canonicalJson, deriveSigningKey, macMatches, macOf } from '../crypto/signing-keys.js';
import { ROLES, TOKEN_NAME, type Role } from './token-store.js';

/** One token as the shared record holds it: its hash, never the token. */
export interface RecordedToken {
  name: string;
  role: Role;
  hash: string;
  createdAt: string;
}

/**
 * TokenRecord is the whole token set of a fleet, one signed value in Redis. `version` only grows:
 * each write takes max(previous + 1, now in ms), so every host can refuse an older record put back
 * by someone who saved it before a revoke (a rollback), and a record written after Redis lost its
 * data is still newer than any a host has seen.
 */
export interface TokenRecord {
  v: 1;
  version: number;
  tokens: RecordedToken[];
}

export const EMPTY_RECORD: TokenRecord = { v: 1, version: 0, tokens: [] };

// Far more than any installation has; a record past these is not ours.
const MAX_TOKENS = 10_000;
export const MAX_RECORD_CHARS = 4 * 1024 * 1024;

export const recordText = (record: TokenRecord): string => canonicalJson(record);

/** signRecord is the hex HMAC of the record under the master key's `tokens` signing key. */
export const signRecord = (masterKey: Buffer, text: string): string => macOf(deriveSigningKey(masterKey, 'tokens'), text);

/** nextVersion is the version of the record that replaces one at `previous`. */
export const nextVersion = (previous: number, now = Date.now()): number => Math.max(previous + 1, now);

export class TokenRecordError extends Error {}

/**
 * readRecord authenticates and checks a record read from Redis: the MAC under one of the master
 * keys, then every field. Anything else (a record a Redis writer made, or one under a master key we
 * do not hold) throws, saying which.
 */
export function readRecord(text: unknown, mac: unknown, masterKeys: readonly Buffer[]): TokenRecord {
  if (typeof text !== 'string' || text.length > MAX_RECORD_CHARS) throw new TokenRecordError('the token record in Redis is malformed');
  const keys = masterKeys.map((k) => deriveSigningKey(k, 'tokens'));
  if (!keys.some((k) => macMatches(k, text, mac))) {
    throw new TokenRecordError('the token record in Redis is not signed by MASTER_KEY (or MASTER_KEY_PREVIOUS): it was written by someone without the key, or this process has another MASTER_KEY');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new TokenRecordError('the token record in Redis is malformed');
  }
  const r = parsed as Partial<TokenRecord>;
  if (r === null || typeof r !== 'object' || r.v !== 1 || !Number.isSafeInteger(r.version) || r.version! < 1
    || !Array.isArray(r.tokens) || r.tokens.length > MAX_TOKENS || !r.tokens.every(isRecordedToken)) {
    throw new TokenRecordError('the token record in Redis is malformed');
  }
  const names = new Set(r.tokens.map((t) => t.name));
  const hashes = new Set(r.tokens.map((t) => t.hash));
  if (names.size !== r.tokens.length || hashes.size !== r.tokens.length) throw new TokenRecordError('the token record in Redis names a token twice');
  return { v: 1, version: r.version!, tokens: r.tokens.map((t) => ({ name: t.name, role: t.role, hash: t.hash, createdAt: t.createdAt })) };
}

function isRecordedToken(t: unknown): t is RecordedToken {
  const x = t as Partial<RecordedToken>;
  return x !== null && typeof x === 'object'
    && typeof x.name === 'string' && TOKEN_NAME.test(x.name)
    && ROLES.includes(x.role as Role)
    && typeof x.hash === 'string' && /^[0-9a-f]{64}$/.test(x.hash)
    && typeof x.createdAt === 'string' && x.createdAt.length <= 40 && !Number.isNaN(Date.parse(x.createdAt));
}
