import type { Redis } from 'ioredis';
import { canonicalJson, deriveSigningKey, macMatches, macOf } from '../crypto/signing-keys.js';
import { SOURCE_NAME } from '../config/sources-file.js';

/** What a source's status records: its last stored backup, its last passed restore drill. */
export type SourceEvent = 'backup' | 'verified';

/** sourceStatusKey is the hash of each source's last events: field `{source}|{event}`, value a signed record. */
export const sourceStatusKey = (queuePrefix: string): string => `${queuePrefix}:source-status`;

const recordText = (source: string, event: SourceEvent, at: string): string => canonicalJson({ v: 1, source, event, at });

/**
 * SourceStatus keeps when each source last backed up and last passed a drill, in Redis, so that
 * `GET /api/sources` answers without listing a hundred prefixes. Each record is signed under the
 * master key: a Redis writer cannot make a source look backed up. It can put back an older record
 * of the same source (the source then looks staler than it is) or delete one (it looks never backed
 * up): both make it look worse, never better.
 */
export class SourceStatus {
  constructor(private readonly redis: Redis, private readonly queuePrefix: string, private readonly masterKeys: readonly (Buffer | undefined)[]) {}

  /** record notes an event of a source (signed with MASTER_KEY); a failure is the caller's to log. */
  async record(source: string, event: SourceEvent, at: Date): Promise<void> {
    const key = this.masterKeys[0];
    if (!key) return;
    const iso = at.toISOString();
    const mac = macOf(deriveSigningKey(key, 'fleet'), recordText(source, event, iso));
    await this.redis.hset(sourceStatusKey(this.queuePrefix), `${source}|${event}`, JSON.stringify({ at: iso, mac }));
  }

  /** read is every source's authenticated last events, by source name; unvouched records are left out. */
  async read(): Promise<Map<string, Partial<Record<SourceEvent, string>>>> {
    const raw = await this.redis.hgetall(sourceStatusKey(this.queuePrefix));
    const keys = this.masterKeys.filter((k): k is Buffer => k !== undefined).map((k) => deriveSigningKey(k, 'fleet'));
    const out = new Map<string, Partial<Record<SourceEvent, string>>>();
    for (const [field, value] of Object.entries(raw)) {
      const [source = '', event] = field.split('|');
      if (!SOURCE_NAME.test(source) || (event !== 'backup' && event !== 'verified')) continue;
      let parsed: { at?: unknown; mac?: unknown };
      try {
        parsed = JSON.parse(value) as typeof parsed;
      } catch {
        continue;
      }
      if (typeof parsed.at !== 'string' || Number.isNaN(Date.parse(parsed.at))) continue;
      const at = parsed.at;
      if (!keys.some((k) => macMatches(k, recordText(source, event, at), parsed.mac))) continue;
      out.set(source, { ...out.get(source), [event]: at });
    }
    return out;
  }
}
