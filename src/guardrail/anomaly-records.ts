import { Readable } from 'node:stream';
import { parseBackupTime } from '../backups/backup-id.js';
import { canonicalJson, deriveSigningKey, macMatches, macOf } from '../crypto/signing-keys.js';
import { BackupNotFoundError } from '../errors.js';
import type { BackupStore } from '../storage/backup-store.js';

/**
 * Anomaly records (issue 16). A backup that looks like an emptied database is flagged with a small
 * JSON object beside it in the store, `{id}.anomaly.json`, signed under the master key's 'stats'
 * branch. In the store, not in Redis: the prune that must spare the good backup before it also
 * runs from the CLI with Redis down, and a record lives as long as the backups it protects. Its
 * name is not a backup's, so listings and prunes never take it for one; `backup accept` deletes
 * it. The bucket is not trusted: a record without a valid MAC is ignored (whoever can write the
 * bucket can delete backups anyway; they cannot make snapkeep keep or flag one).
 */

/** AnomalyRecord says why a backup was flagged and against which backup it was compared. */
export interface AnomalyRecord {
  backupId: string;
  flaggedAt: string;
  previousId: string;
  reasons: string[];
}

const SUFFIX = '.anomaly.json';
const NAME = /^(\d{8}T\d{6}Z-[0-9a-f]{8})\.anomaly\.json$/;
// A record is a few hundred bytes; anything much larger is not one of ours.
const MAX_RECORD_BYTES = 64 * 1024;

/** anomalyRecordName is the store name of a backup's anomaly record. */
export const anomalyRecordName = (backupId: string): string => `${backupId}${SUFFIX}`;

const macText = (record: AnomalyRecord): string => canonicalJson({ purpose: 'snapkeep-anomaly-record', record });

/** writeAnomalyRecord stores a signed record (replacing one the backup had). */
export async function writeAnomalyRecord(store: BackupStore, record: AnomalyRecord, masterKey: Buffer): Promise<void> {
  const body = JSON.stringify({ record, mac: macOf(deriveSigningKey(masterKey, 'stats'), macText(record)) });
  await store.put(anomalyRecordName(record.backupId), Readable.from([Buffer.from(body)]), { metadata: { 'snapkeep-format': 'anomaly1' } });
}

/** AnomalyRecords are the valid records in a store, and the names of those that failed their check. */
export interface AnomalyRecords {
  records: AnomalyRecord[];
  forged: string[];
}

/**
 * readAnomalyRecords lists the store and reads every anomaly record, checking each against the
 * master keys; newest backup first. Throws when the store cannot be listed or read (a prune must
 * then delete nothing rather than ignore the guardrail).
 */
export async function readAnomalyRecords(store: BackupStore, masterKeys: ReadonlyArray<Buffer | undefined>): Promise<AnomalyRecords> {
  const keys = masterKeys.filter((k): k is Buffer => k !== undefined).map((k) => deriveSigningKey(k, 'stats'));
  const names = (await store.list()).map((o) => o.name).filter((name) => NAME.test(name));
  const result: AnomalyRecords = { records: [], forged: [] };
  for (const name of names.sort().reverse()) {
    const record = await readRecord(store, name, keys);
    if (record === 'gone') continue;
    if (record === 'forged') result.forged.push(name);
    else result.records.push(record);
  }
  return result;
}

/** clearAnomalyRecord deletes a backup's record; false when it had none. */
export async function clearAnomalyRecord(store: BackupStore, backupId: string): Promise<boolean> {
  const name = anomalyRecordName(backupId);
  try {
    await store.head(name);
  } catch (error) {
    if (error instanceof BackupNotFoundError) return false;
    throw error;
  }
  await store.delete([name]);
  return true;
}

async function readRecord(store: BackupStore, name: string, keys: Buffer[]): Promise<AnomalyRecord | 'forged' | 'gone'> {
  let text: string;
  try {
    const object = await store.get(name);
    if (object.size > MAX_RECORD_BYTES) {
      object.body.destroy();
      return 'forged';
    }
    const chunks: Buffer[] = [];
    for await (const chunk of object.body) chunks.push(chunk as Buffer);
    text = Buffer.concat(chunks).toString('utf8');
  } catch (error) {
    // Accepted (deleted) between the listing and the read.
    if (error instanceof BackupNotFoundError) return 'gone';
    throw error;
  }
  try {
    const { record, mac } = JSON.parse(text) as { record?: AnomalyRecord; mac?: unknown };
    if (!record || `${record.backupId}${SUFFIX}` !== name || parseBackupTime(record.backupId) === null) return 'forged';
    if (!Array.isArray(record.reasons) || typeof record.flaggedAt !== 'string' || typeof record.previousId !== 'string') return 'forged';
    return keys.some((key) => macMatches(key, macText(record), mac)) ? record : 'forged';
  } catch {
    return 'forged';
  }
}
