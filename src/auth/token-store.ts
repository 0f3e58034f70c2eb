import { createHash, randomBytes } from 'node:crypto';

export type Role = 'superadmin' | 'viewer';
export const ROLES: readonly Role[] = ['superadmin', 'viewer'];

/** TokenInfo is what a store tells of a token: never the token itself, which no store keeps. */
export interface TokenInfo {
  name: string;
  role: Role;
  createdAt: string;
}

/**
 * TokenStore keeps API tokens as SHA-256 hashes only: in STATE_DIR/snapkeep.db on a single host
 * (sqlite-token-store.ts), in Redis, signed, when a fleet of API processes shares it
 * (redis-token-store.ts). open-token-store.ts picks one.
 */
export interface TokenStore {
  /** Where the tokens live, for messages: "STATE_DIR/snapkeep.db" or "Redis". */
  readonly where: string;
  /** create makes a new token and returns it; it is shown once and cannot be read back. */
  create(name: string, role: Role): Promise<string>;
  /** verify returns the token's owner, or null. */
  verify(token: string): Promise<TokenInfo | null>;
  list(): Promise<TokenInfo[]>;
  /** revoke removes a token by name; false when there was none. */
  revoke(name: string): Promise<boolean>;
  close(): Promise<void>;
}

/** A token is 32 random bytes, so a plain hash is enough: there is nothing to brute-force that a salt would slow. */
export const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

export const newToken = (): string => `skp_${randomBytes(32).toString('base64url')}`;

export const TOKEN_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** checkTokenName refuses a name that could not be listed or revoked plainly. */
export function checkTokenName(name: string): void {
  if (!TOKEN_NAME.test(name)) throw new Error('token name: use 1-64 letters, digits, "_", "." or "-"');
}

/** A presented token longer than any we make is not looked up at all. */
export const plausibleToken = (token: string): boolean => token.length > 0 && token.length <= 200;
