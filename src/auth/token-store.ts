import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

export type Role = 'superadmin' | 'viewer';
export const ROLES: readonly Role[] = ['superadmin', 'viewer'];

/** TokenInfo is what the store tells of a token: never the token itself, which it does not keep. */
export interface TokenInfo {
  name: string;
  role: Role;
  createdAt: string;
}

const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

/**
 * TokenStore keeps API tokens in `STATE_DIR/snapkeep.db`, as SHA-256 hashes only. A token is 32
 * random bytes, so a plain hash is enough: there is nothing to brute-force that a salt would slow.
 */
export class TokenStore {
  private readonly db: Database.Database;

  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    this.db = new Database(join(stateDir, 'snapkeep.db'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`CREATE TABLE IF NOT EXISTS tokens (
      name TEXT PRIMARY KEY,
      role TEXT NOT NULL CHECK (role IN ('superadmin', 'viewer')),
      hash TEXT NOT NULL UNIQUE,
      created_at TEXT NOT NULL
    )`);
  }

  /** create makes a new token and returns it; it is shown once and cannot be read back. */
  create(name: string, role: Role): string {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new Error('token name: use 1-64 letters, digits, "_", "." or "-"');
    const token = `skp_${randomBytes(32).toString('base64url')}`;
    try {
      this.db.prepare('INSERT INTO tokens (name, role, hash, created_at) VALUES (?, ?, ?, ?)')
        .run(name, role, hashToken(token), new Date().toISOString());
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new Error(`a token named "${name}" already exists`);
      throw err;
    }
    return token;
  }

  /** verify returns the token's owner, or null; the lookup is by hash, so timing tells nothing of the token. */
  verify(token: string): TokenInfo | null {
    if (token.length === 0 || token.length > 200) return null;
    const row = this.db.prepare('SELECT name, role, created_at AS createdAt FROM tokens WHERE hash = ?').get(hashToken(token));
    return (row as TokenInfo | undefined) ?? null;
  }

  list(): TokenInfo[] {
    return this.db.prepare('SELECT name, role, created_at AS createdAt FROM tokens ORDER BY name').all() as TokenInfo[];
  }

  /** revoke removes a token by name; false when there was none. */
  revoke(name: string): boolean {
    return this.db.prepare('DELETE FROM tokens WHERE name = ?').run(name).changes > 0;
  }

  close(): void {
    this.db.close();
  }
}
