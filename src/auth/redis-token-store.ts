import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { Logger } from '../logging/create-logger.js';
import {
  EMPTY_RECORD, nextVersion, readRecord, recordText, signRecord, TokenRecordError, type RecordedToken, type TokenRecord,
} from './token-record.js';
import { checkTokenName, hashToken, newToken, plausibleToken, type Role, type TokenInfo, type TokenStore } from './token-store.js';

/** apiTokensKey is the Redis hash holding the fleet's token record: fields `record` and `mac`. */
export const apiTokensKey = (queuePrefix: string): string => `${queuePrefix}:api-tokens`;

// A revoke must reach every API process within 5 s (issue 14): each checks the record's MAC every second.
const POLL_MS = 1000;

// Compare-and-set on the whole previous record, so two hosts creating tokens at once never lose one.
const CAS_SCRIPT = `
local current = redis.call('HGET', KEYS[1], 'record')
if (current or '') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'record', ARGV[2], 'mac', ARGV[3])
return 1`;

export interface RedisTokenStoreOptions {
  redis: Redis;
  queuePrefix: string;
  masterKey: Buffer;
  previousMasterKeys?: readonly Buffer[];
  /** Where this host remembers the newest record version it has seen (a rollback guard across restarts). */
  stateDir?: string;
  logger?: Logger;
  pollMs?: number;
}

/**
 * RedisTokenStore keeps the tokens of a fleet of API processes in Redis: one record of hashes,
 * signed under the master key, so a Redis writer without MASTER_KEY can neither add a token nor
 * put a revoked one back (see TokenRecord's version). Each process holds the record in memory and
 * answers from it (a token check costs no Redis round trip, and tokens keep working while Redis is
 * briefly away); it polls the record's MAC every second, so a revoke on any host is refused
 * everywhere within about a second.
 */
export class RedisTokenStore implements TokenStore {
  readonly where = 'Redis';
  private readonly key: string;
  private readonly masterKeys: readonly Buffer[];
  private byHash = new Map<string, TokenInfo>();
  private seenMac: string | null | undefined;
  private highWater: number;
  private loading: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastProblem = '';

  constructor(private readonly options: RedisTokenStoreOptions) {
    this.key = apiTokensKey(options.queuePrefix);
    this.masterKeys = [options.masterKey, ...(options.previousMasterKeys ?? [])];
    this.highWater = this.readHighWater();
  }

  /** load reads the record now; problems with it are logged, not thrown (the last good record stays). */
  async load(): Promise<void> {
    this.loading ??= this.reload().finally(() => { this.loading = undefined; });
    return this.loading;
  }

  /** startPolling keeps this process's copy fresh (API processes; a CLI command reads once). */
  startPolling(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.load().catch((error: unknown) => this.report(`could not read the API tokens from Redis: ${(error as Error).message}`, 'warn'));
    }, this.options.pollMs ?? POLL_MS);
    this.timer.unref();
  }

  async verify(token: string): Promise<TokenInfo | null> {
    if (!plausibleToken(token)) return null;
    const hash = hashToken(token);
    const known = this.byHash.get(hash);
    if (known) return known;
    // An unknown token makes the process look again (a token made a moment ago on another host works
    // at once): one HGET of the MAC, shared by every miss waiting at the same time, so a flood of
    // wrong tokens (which the failed-token limit slows anyway) costs Redis one read per round trip.
    // A read that started before this request may predate the token: wait for it, then read anew.
    await this.loading?.catch(() => undefined);
    // Redis away: answer from what we hold, as for known tokens.
    await this.load().catch(() => undefined);
    return this.byHash.get(hash) ?? null;
  }

  async list(): Promise<TokenInfo[]> {
    await this.load();
    this.throwIfUnusable();
    return [...this.byHash.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async create(name: string, role: Role): Promise<string> {
    checkTokenName(name);
    const token = newToken();
    const entry: RecordedToken = { name, role, hash: hashToken(token), createdAt: new Date().toISOString() };
    await this.update((record) => {
      if (record.tokens.some((t) => t.name === name)) throw new Error(`a token named "${name}" already exists`);
      return [...record.tokens, entry];
    });
    return token;
  }

  async revoke(name: string): Promise<boolean> {
    let removed = false;
    await this.update((record) => {
      const kept = record.tokens.filter((t) => t.name !== name);
      removed = kept.length < record.tokens.length;
      return removed ? kept : undefined;
    });
    return removed;
  }

  /** adopt adds tokens kept elsewhere (a host's STATE_DIR/snapkeep.db), skipping names or hashes already here. */
  async adopt(tokens: readonly RecordedToken[]): Promise<number> {
    let added = 0;
    await this.update((record) => {
      const names = new Set(record.tokens.map((t) => t.name));
      const hashes = new Set(record.tokens.map((t) => t.hash));
      const fresh = tokens.filter((t) => !names.has(t.name) && !hashes.has(t.hash));
      added = fresh.length;
      return added > 0 ? [...record.tokens, ...fresh] : undefined;
    });
    return added;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * update writes a changed record with compare-and-set, retrying when another host wrote first.
   * It never builds on a record it cannot authenticate or on one older than this host has seen:
   * re-signing that would make its tokens genuine again.
   */
  private async update(change: (record: TokenRecord) => RecordedToken[] | undefined): Promise<void> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const [text, mac] = await this.options.redis.hmget(this.key, 'record', 'mac');
      const record = text === null ? EMPTY_RECORD : this.authenticate(text, mac);
      const tokens = change(record);
      if (tokens === undefined) {
        this.use(record, mac ?? null);
        return;
      }
      const next: TokenRecord = { v: 1, version: nextVersion(Math.max(record.version, this.highWater)), tokens };
      const nextText = recordText(next);
      const nextMac = signRecord(this.options.masterKey, nextText);
      const written = await this.options.redis.eval(CAS_SCRIPT, 1, this.key, text ?? '', nextText, nextMac);
      if (written === 1) {
        this.use(next, nextMac);
        return;
      }
    }
    throw new Error('the API token record in Redis kept changing under this write; try again');
  }

  /** authenticate reads a record for a write: anything but a genuine, current record throws with what to do. */
  private authenticate(text: string, mac: string | null): TokenRecord {
    let record: TokenRecord;
    try {
      record = readRecord(text, mac, this.masterKeys);
    } catch (error) {
      throw new Error(`${(error as Error).message}; refusing to write over it. To start over, delete the Redis key "${this.key}" (every token is then gone) and create the tokens again`);
    }
    if (record.version < this.highWater) throw new Error(this.rollbackMessage(record.version));
    return record;
  }

  private async reload(): Promise<void> {
    const redis = this.options.redis;
    const mac = await redis.hget(this.key, 'mac');
    if (this.seenMac !== undefined && mac === this.seenMac) {
      return;
    }
    const [text, currentMac] = await redis.hmget(this.key, 'record', 'mac');
    if (text === null) {
      // No record (none made yet, or Redis lost it): no token is valid. Nothing is revived by this.
      this.use(EMPTY_RECORD, null);
      return;
    }
    try {
      const record = readRecord(text, currentMac, this.masterKeys);
      if (record.version < this.highWater) {
        this.seenMac = currentMac;
        this.report(`${this.rollbackMessage(record.version)}; keeping the tokens of the newer record`, 'error');
        return;
      }
      this.use(record, currentMac);
    } catch (error) {
      if (!(error instanceof TokenRecordError)) throw error;
      // Keep the last genuine record: a forged one must not replace it, and must not lock everyone out either.
      this.seenMac = currentMac;
      this.report(`${error.message}; keeping the tokens of the last genuine record`, 'error');
    }
  }

  private use(record: TokenRecord, mac: string | null): void {
    this.seenMac = mac;
    this.byHash = new Map(record.tokens.map((t) => [t.hash, { name: t.name, role: t.role, createdAt: t.createdAt }]));
    this.lastProblem = '';
    if (record.version > this.highWater) {
      this.highWater = record.version;
      this.writeHighWater();
    }
  }

  private throwIfUnusable(): void {
    if (this.lastProblem) throw new Error(this.lastProblem);
  }

  private rollbackMessage(version: number): string {
    return `the token record in Redis (version ${version}) is older than one this host has seen (version ${this.highWater}): someone put an old record back, perhaps to revive a revoked token`;
  }

  /** report logs a problem with the record once, not every second. */
  private report(message: string, level: 'warn' | 'error'): void {
    if (message === this.lastProblem) return;
    this.lastProblem = message;
    this.options.logger?.[level](message, { key: this.key });
  }

  private highWaterFile(): string | undefined {
    return this.options.stateDir === undefined ? undefined : join(this.options.stateDir, 'api-tokens.version');
  }

  private readHighWater(): number {
    const file = this.highWaterFile();
    if (!file) return 0;
    try {
      const n = Number(readFileSync(file, 'utf8').trim());
      return Number.isSafeInteger(n) && n > 0 ? n : 0;
    } catch {
      return 0;
    }
  }

  private writeHighWater(): void {
    const file = this.highWaterFile();
    if (!file) return;
    try {
      writeFileSync(`${file}.tmp`, `${this.highWater}\n`, { mode: 0o600 });
      renameSync(`${file}.tmp`, file);
    } catch (error) {
      this.options.logger?.warn('could not remember the API token record version', { error: (error as Error).message });
    }
  }
}
