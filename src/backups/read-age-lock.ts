import { BackupNotFoundError, SnapkeepError } from '../errors.js';
import type { BackupStore } from '../storage/backup-store.js';

/** AgeLock is how an age backup is locked: a passphrase (scrypt) or public keys (X25519, hybrid). */
export type AgeLock = 'passphrase' | 'public-key';

const HEADER_PEEK_BYTES = 4096;
const ENCRYPTION = 'snapkeep-encryption';

/**
 * readAgeLock says how an age backup is locked: from the `snapkeep-encryption` metadata written at
 * backup time, or, for an object without it (copied in by hand), from the first stanza of its age
 * header, which is plain text. null when the object vanished meanwhile. Metadata that is there but
 * not what snapkeep writes is metadata_damaged naming the key: the bucket is not trusted, and one
 * bad object must be reported as itself, not fail every listing.
 */
export async function readAgeLock(store: BackupStore, name: string): Promise<AgeLock | null> {
  try {
    const { metadata } = await store.head(name);
    const recorded = metadata[ENCRYPTION];
    if (recorded === 'passphrase' || recorded === 'public-key') return recorded;
    if (recorded !== undefined) throw damaged(store, name, `its ${ENCRYPTION} metadata is not one snapkeep writes`);
    return await peekHeader(store, name);
  } catch (error) {
    if (error instanceof BackupNotFoundError) return null;
    throw error;
  }
}

async function peekHeader(store: BackupStore, name: string): Promise<AgeLock> {
  const { body } = await store.get(name);
  let head = Buffer.alloc(0);
  try {
    for await (const chunk of body) {
      head = Buffer.concat([head, chunk as Buffer]);
      if (head.length >= HEADER_PEEK_BYTES) break;
    }
  } finally {
    body.destroy();
  }
  const stanza = head.toString('latin1').split('\n').find((line) => line.startsWith('-> '));
  return stanza?.startsWith('-> scrypt ') ? 'passphrase' : 'public-key';
}

const damaged = (store: BackupStore, name: string, why: string): SnapkeepError =>
  new SnapkeepError('metadata_damaged', `${store.keyOf(name)}: ${why}`);
