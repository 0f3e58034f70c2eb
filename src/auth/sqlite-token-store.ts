import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { checkTokenName, hashToken, newToken, plausibleToken, type Role, type TokenInfo, type TokenStore } from './token-store.js';

export interface StoredToken extends TokenInfo {
  hash: string;
}

/**
 * SqliteTokenStore keeps API tokens in `STATE_DIR/snapkeep.db`: the store of a single host, whose
 * one API process (`serve` with its embedded Redis) is the only reader. The CLI works on it with the
 * service stopped.
 */
export class SqliteTokenStore implements TokenStore {
  readonly where = 'STATE_DIR/snapkeep.db';
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

  async create(name: string, role: Role): Promise<string> {
    checkTokenName(name);
    const token = newToken();
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

  /** The lookup is by hash, so timing tells nothing of the token. */
  async verify(token: string): Promise<TokenInfo | null> {
    if (!plausibleToken(token)) return null;
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

  async list(): Promise<TokenInfo[]> {
    return this.db.prepare('SELECT name, role, created_at AS createdAt FROM tokens ORDER BY name').all() as TokenInfo[];
  }

  async revoke(name: string): Promise<boolean> {
    const removed = this.db.prepare('DELETE FROM tokens WHERE name = ?').run(name).changes > 0;
    this.valid.clear();
    return removed;
  }

  /** takeAll removes every token and returns them with their hashes: moving a host's tokens into Redis. */
  takeAll(): StoredToken[] {
    return this.db.transaction(() => {
      const rows = this.db.prepare('SELECT name, role, hash, created_at AS createdAt FROM tokens ORDER BY name').all() as StoredToken[];
      this.db.prepare('DELETE FROM tokens').run();
      return rows;
    })();
  }

  /** putBack undoes takeAll when the move into Redis failed. */
  putBack(rows: readonly StoredToken[]): void {
    const insert = this.db.prepare('INSERT OR IGNORE INTO tokens (name, role, hash, created_at) VALUES (?, ?, ?, ?)');
    this.db.transaction(() => { for (const r of rows) insert.run(r.name, r.role, r.hash, r.createdAt); })();
    this.valid.clear();
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
