import type { Redis } from 'ioredis';
import { isFutureDated } from '../backups/future-dated.js';
import { deriveSigningKey, macMatches, macOf } from '../crypto/signing-keys.js';
import type { Logger } from '../logging/create-logger.js';

/**
 * The last-success time lives in the shared stats hash, where anyone who can write to Redis could
 * set it to 2099 and silence the staleness alert for good. So it is stored as
 * `{seconds}:{HMAC}` under a key derived from the master key ('stats'): a value without a valid MAC
 * is read as no value at all (the gauge shows 0, so the alert fires rather than goes quiet).
 */

/** LAST_SUCCESS_FIELD is the hash field that holds the sealed last-success time. */
export const LAST_SUCCESS_FIELD = 'last_success:backup';

const SEALED = /^(\d{1,12}(?:\.\d{1,9})?):([0-9a-f]{64})$/;

// Compare-and-set: the script cannot check a MAC, so the caller reads and checks, and the write
// happens only if nobody changed the field meanwhile (two workers finishing at once).
const REPLACE_IF_UNCHANGED = `if (redis.call('HGET', KEYS[1], ARGV[1]) or '') == ARGV[2] then redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) return 1 end
return 0`;
const MAX_ATTEMPTS = 5;

/** LastSuccessSeal seals and opens last-success values of one stats hash. */
export class LastSuccessSeal {
  private readonly key: Buffer;

  /** The MAC covers the hash's key too: a value copied from another deployment's hash does not verify. */
  constructor(masterKey: Buffer, private readonly statsKey: string) {
    this.key = deriveSigningKey(masterKey, 'stats');
  }

  /** seal is the stored form of a time in Unix seconds (millisecond precision). */
  seal(seconds: number): string {
    const text = String(Math.round(seconds * 1000) / 1000);
    return `${text}:${macOf(this.key, this.macText(text))}`;
  }

  /** open is the time a stored value vouches for; undefined when there is none, 'forged' when its MAC fails. */
  open(stored: string | undefined): number | 'forged' | undefined {
    if (stored === undefined || stored === '') return undefined;
    const m = SEALED.exec(stored);
    if (!m || !macMatches(this.key, this.macText(m[1]!), m[2])) return 'forged';
    return Number(m[1]);
  }

  /**
   * raise stores `seconds` unless a valid, later time is already there; a forged value is replaced.
   * Returns the value it found forged, if any, for the caller to warn about.
   */
  async raise(redis: Redis, seconds: number): Promise<string | undefined> {
    let forged: string | undefined;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const stored = (await redis.hget(this.statsKey, LAST_SUCCESS_FIELD)) ?? undefined;
      const current = this.open(stored);
      if (current === 'forged') forged = stored;
      else if (current !== undefined && current >= seconds) return forged;
      const replaced = await redis.eval(REPLACE_IF_UNCHANGED, 1, this.statsKey, LAST_SUCCESS_FIELD, stored ?? '', this.seal(seconds));
      if (replaced === 1) return forged;
    }
    return forged;
  }

  private macText(seconds: string): string {
    return `snapkeep last success\n${this.statsKey}\n${seconds}`;
  }
}

/** lastSuccessSeal is the seal of a stats hash, or undefined without a master key (nothing can be sealed or verified). */
export function lastSuccessSeal(statsKey: string, masterKey: Buffer | undefined): LastSuccessSeal | undefined {
  return masterKey ? new LastSuccessSeal(masterKey, statsKey) : undefined;
}

/**
 * recordLastSuccess raises the sealed last-success time to a backup's snapshot time. A time more
 * than five minutes ahead counts as now (this host's clock jumped back since, or the time is not
 * real): never as a time that would keep the staleness alert quiet until then.
 */
export async function recordLastSuccess(redis: Redis, seal: LastSuccessSeal | undefined, seconds: number, logger?: Pick<Logger, 'warn'>): Promise<void> {
  if (!seal) {
    logger?.warn('no master key: the last-success time is not recorded');
    return;
  }
  let time = seconds;
  if (isFutureDated(new Date(seconds * 1000))) {
    logger?.warn('a backup dated in the future counts as taken now for the last-success time', { createdAt: new Date(seconds * 1000).toISOString() });
    time = Date.now() / 1000;
  }
  if ((await seal.raise(redis, time)) !== undefined) warnForged(logger, 'replaced');
}

/** warnForged says that the stored last-success time did not verify: an older snapkeep's plain number, or a write to Redis by someone without the master key. */
export function warnForged(logger: Pick<Logger, 'warn'> | undefined, what: 'ignored' | 'replaced'): void {
  logger?.warn(`the last-success time in Redis has no valid MAC (an older snapkeep's, or written by someone without the master key): ${what}`, { field: LAST_SUCCESS_FIELD });
}
