import type { Redis } from 'ioredis';
import { canonicalJson, deriveSigningKey, macMatches, macOf } from '../crypto/signing-keys.js';
import type { BackupVerification } from '../queue/job-types.js';
import type { Queues } from '../queue/queues.js';

/**
 * Verification records (issue 16): each backup's last drill, the last good drill and the count of
 * failed verifications, in one Redis hash that every API process reads for `GET /api/backups`,
 * `/api/health` and `/metrics`. Redis is not trusted, so each value carries an HMAC under the
 * master key's 'stats' branch, over the hash's key and the field too: a value written without the
 * key, or moved to another backup's field or another deployment's hash, is read as absent.
 */

/** VerificationRecord is what is kept of one drill of one backup. */
export interface VerificationRecord {
  backupId: string;
  verified: boolean;
  verifiedAt: string;
  failedCheck?: string;
  reason?: string;
}

/** VerificationState is the whole hash, checked: forged values are left out and counted. */
export interface VerificationState {
  byBackup: Map<string, VerificationRecord>;
  /** The last verification that passed. */
  lastGood?: VerificationRecord;
  /** Verifications that failed, ever (a counter). */
  failed: number;
  /** Values whose MAC did not verify under any key: someone wrote to Redis who should not. */
  forged: number;
}

const LAST_GOOD = 'last-good';
const FAILED = 'failed';
const backupField = (id: string): string => `backup:${id}`;

// Compare-and-set: Lua cannot check a MAC, so the caller reads and checks, and the write happens
// only if the field still holds what was read (two workers may finish drills at once).
const SET_IF_UNCHANGED = `local now = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if now ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1`;
const CAS_ATTEMPTS = 5;

/** verificationsKey is the hash's key, under QUEUE_PREFIX like the job statistics. */
export const verificationsKey = (queues: Queues): string => `${queues.backup.opts.prefix ?? 'bull'}:verifications`;

/** VerificationRecords reads and writes the hash; the first key signs, every key is tried when reading. */
export class VerificationRecords {
  private readonly keys: Buffer[];

  constructor(private readonly redis: Redis, private readonly hashKey: string, masterKeys: ReadonlyArray<Buffer | undefined>) {
    this.keys = masterKeys.filter((k): k is Buffer => k !== undefined).map((k) => deriveSigningKey(k, 'stats'));
  }

  /** record stores one verification: the backup's field, the last good drill, or one more failure. */
  async record(verification: BackupVerification): Promise<void> {
    const record: VerificationRecord = {
      backupId: verification.backupId, verified: verification.verified, verifiedAt: verification.verifiedAt,
      ...(verification.failedCheck !== undefined ? { failedCheck: verification.failedCheck } : {}),
      ...(verification.reason !== undefined ? { reason: verification.reason.slice(0, 500) } : {}),
    };
    await this.redis.hset(this.hashKey, backupField(record.backupId), this.seal(backupField(record.backupId), record));
    if (record.verified) {
      await this.update(LAST_GOOD, (current) => {
        const previous = current as VerificationRecord | undefined;
        return previous && previous.verifiedAt >= record.verifiedAt ? undefined : record;
      });
    } else {
      await this.update(FAILED, (current) => ({ count: countOf(current) + 1 }));
    }
  }

  /** forget removes the records of backups that no longer exist (after a prune). */
  async forget(backupIds: readonly string[]): Promise<void> {
    if (backupIds.length > 0) await this.redis.hdel(this.hashKey, ...backupIds.map(backupField));
  }

  /** read is the whole hash in one HGETALL, every value checked. */
  async read(): Promise<VerificationState> {
    const fields = await this.redis.hgetall(this.hashKey);
    const state: VerificationState = { byBackup: new Map(), failed: 0, forged: 0 };
    for (const [field, raw] of Object.entries(fields)) {
      const value = this.open(field, raw);
      if (value === 'forged') { state.forged += 1; continue; }
      if (field === LAST_GOOD) state.lastGood = value as VerificationRecord;
      else if (field === FAILED) state.failed = countOf(value);
      else if (field.startsWith('backup:')) {
        const record = value as VerificationRecord;
        if (field === backupField(record.backupId)) state.byBackup.set(record.backupId, record);
      }
    }
    return state;
  }

  private seal(field: string, value: object): string {
    const first = this.keys[0];
    if (!first) throw new Error('no master key to sign verification records with');
    return JSON.stringify({ value, mac: macOf(first, this.macText(field, value)) });
  }

  private open(field: string, raw: string): unknown {
    try {
      const { value, mac } = JSON.parse(raw) as { value?: unknown; mac?: unknown };
      if (value === null || typeof value !== 'object') return 'forged';
      const text = this.macText(field, value);
      return this.keys.some((key) => macMatches(key, text, mac)) ? value : 'forged';
    } catch {
      return 'forged';
    }
  }

  private macText(field: string, value: unknown): string {
    return canonicalJson({ purpose: 'snapkeep-verification-record', hash: this.hashKey, field, value });
  }

  /** update replaces a field with next(current) by compare-and-set; next returning undefined keeps it. A forged value counts as none. */
  private async update(field: string, next: (current: unknown) => object | undefined): Promise<void> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const stored = (await this.redis.hget(this.hashKey, field)) ?? '';
      const opened = stored === '' ? undefined : this.open(field, stored);
      const value = next(opened === 'forged' ? undefined : opened);
      if (value === undefined) return;
      if ((await this.redis.eval(SET_IF_UNCHANGED, 1, this.hashKey, field, stored, this.seal(field, value))) === 1) return;
    }
    throw new Error(`could not update the verification record ${field}: it kept changing`);
  }
}

/** countOf reads the failure counter's value; anything but a whole number ≥ 0 is 0. */
function countOf(value: unknown): number {
  const n = (value as { count?: unknown } | undefined)?.count;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : 0;
}
