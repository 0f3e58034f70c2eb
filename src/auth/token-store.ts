import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
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
  private readonly lookup: Database.Statement<[string], TokenInfo>;
  private readonly dataVersion: Database.Statement<[], number>;
  /**
   * Tokens seen valid, by hash: every API request checks its token, and a SQLite query per request
   * (prepared anew each time, before) was most of the cost of a poll. Emptied whenever the database
   * changes: another process (`snapkeep token revoke`) changes PRAGMA data_version, this one's own
   * create and revoke clear it themselves, so a revoked token is refused on the next request.
   */
  private readonly valid = new Map<string, TokenInfo>();
  private seenDataVersion = -1;

  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const file = join(stateDir, 'snapkeep.db');
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // Hashes only, but still nobody else's business; older installs created it 0644.
    for (const f of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`CREATE TABLE IF NOT EXISTS tokens (
      name TEXT PRIMARY KEY,
      role TEXT NOT NULL CHECK (role IN ('superadmin', 'viewer')),
      hash TEXT NOT NULL UNIQUE,
      created_at TEXT NOT NULL
    )`);
    this.lookup = this.db.prepare<[string], TokenInfo>('SELECT name, role, created_at AS createdAt FROM tokens WHERE hash = ?');
    this.dataVersion = this.db.prepare<[], number>('PRAGMA data_version').pluck();
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
    this.valid.clear();
    return token;
  }

  /** verify returns the token's owner, or null; the lookup is by hash, so timing tells nothing of the token. */
  verify(token: string): TokenInfo | null {
    if (token.length === 0 || token.length > 200) return null;
    const version = this.dataVersion.get()!;
    if (version !== this.seenDataVersion) {
      this.valid.clear();
      this.seenDataVersion = version;
    }
    const hash = hashToken(token);
    const cached = this.valid.get(hash);
    if (cached) return cached;
    const row = this.lookup.get(hash);
    if (!row) return null;
    // Only valid tokens are kept (a guesser cannot fill the map), and there are few of them.
    const info: TokenInfo = { name: row.name, role: row.role, createdAt: row.createdAt };
    if (this.valid.size < 1000) this.valid.set(hash, info);
    return info;
  }

  list(): TokenInfo[] {
    return this.db.prepare('SELECT name, role, created_at AS createdAt FROM tokens ORDER BY name').all() as TokenInfo[];
  }

  /** revoke removes a token by name; false when there was none. */
  revoke(name: string): boolean {
    const removed = this.db.prepare('DELETE FROM tokens WHERE name = ?').run(name).changes > 0;
    this.valid.clear();
    return removed;
  }

  close(): void {
    this.db.close();
  }
}
