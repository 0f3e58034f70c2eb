import { readFacts } from '../../src/backups/backup-facts.js';
import type { StoredBackup } from '../../src/backups/list-backups.js';
import type { JobContext } from '../runtime/job-context.js';
import { masterKeysOf } from '../../src/config/master-keys.js';

// HEADs at once, as the listing does for age objects.
const AT_ONCE = 8;

/**
 * unrecordedBackups are the database backups whose authenticated record (backup-facts.ts) is
 * missing or fails: made before records existed, by another CRBU writer, or planted in the bucket
 * (an old ciphertext copied under a newer id decrypts fine, and would otherwise count as the newest
 * backup and let a prune delete the genuine ones it displaces). Archives carry their own
 * authenticated manifest and are not looked at here. A HEAD per database backup.
 */
export async function unrecordedBackups(ctx: Pick<JobContext, 'store' | 'config'>, backups: readonly StoredBackup[]): Promise<Set<string>> {
  const keys = masterKeysOf(ctx.config);
  const databases = backups.filter((b) => b.kind === 'database' && b.error === undefined);
  const unrecorded = new Set<string>();
  for (let i = 0; i < databases.length; i += AT_ONCE) {
    await Promise.all(databases.slice(i, i + AT_ONCE).map(async (b) => {
      const head = await ctx.store.head(b.name);
      if (!readFacts(b.id, head.metadata, keys).authenticated) unrecorded.add(b.id);
    }));
  }
  return unrecorded;
}
