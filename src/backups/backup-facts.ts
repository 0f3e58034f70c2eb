import { createHash } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { canonicalJson, deriveSigningKey, macMatches, macOf } from '../crypto/signing-keys.js';
import type { ContentFingerprint } from '../snapshot/content-fingerprint.js';

/**
 * BackupFacts are what a database backup records about the database it holds, beside the object
 * (S3 metadata or the directory store's sidecar): the live database's journal mode, which a
 * restore and `backup apply` put back, and the content fingerprint a restore drill compares. They
 * are authenticated with an HMAC under the master key: the bucket is not trusted (issue 13).
 */
export interface BackupFacts {
  journalMode: string;
  /** The fingerprint, or only its digest when it would not fit in S3's 2 KB of metadata. */
  fingerprint: ContentFingerprint | { digest: string };
  /**
   * The plaintext's size (the snapshot's bytes) and the envelope's format (`crbu1`, `crbu3`, `age`):
   * a restore refuses an object whose header says otherwise, and never writes more than `size`
   * (an altered version byte must not turn a backup into a decompression bomb).
   */
  size?: number;
  format?: string;
}

/** What a reader learned: the facts, and whether a master key vouched for them. */
export interface ReadFacts extends Partial<BackupFacts> {
  authenticated: boolean;
}

const JOURNAL = 'snapkeep-journal-mode';
const FINGERPRINT = 'snapkeep-fingerprint';
const MAC = 'snapkeep-facts-mac';
const SIZE = 'snapkeep-plaintext-size';
const FORMAT = 'snapkeep-facts-format';
// S3 allows 2 KB of user metadata in all; the rest of ours takes about 200 bytes.
const MAX_FINGERPRINT_CHARS = 1200;

/** fingerprintDigest is the SHA-256 of a fingerprint's canonical JSON: what a too-large one is recorded as. */
export const fingerprintDigest = (fingerprint: ContentFingerprint): string =>
  createHash('sha256').update(canonicalJson(fingerprint)).digest('hex');

const macText = (backupId: string, journalMode: string, fingerprint: string, size: string | undefined, format: string | undefined): string =>
  canonicalJson({ purpose: 'snapkeep-backup-facts', backupId, journalMode, fingerprint, size, format });

/** factsMetadata is the metadata entries that record facts for backupId, signed with masterKey. */
export function factsMetadata(backupId: string, facts: { journalMode: string; fingerprint: ContentFingerprint; size?: number; format?: string }, masterKey: Buffer): Record<string, string> {
  const packed = `z:${deflateRawSync(Buffer.from(JSON.stringify(facts.fingerprint))).toString('base64url')}`;
  const fingerprint = packed.length <= MAX_FINGERPRINT_CHARS ? packed : `sha256:${fingerprintDigest(facts.fingerprint)}`;
  const journalMode = /^[a-z]{1,16}$/.test(facts.journalMode) ? facts.journalMode : 'delete';
  const size = facts.size !== undefined ? String(facts.size) : undefined;
  return {
    [JOURNAL]: journalMode,
    [FINGERPRINT]: fingerprint,
    ...(size !== undefined ? { [SIZE]: size } : {}),
    ...(facts.format !== undefined ? { [FORMAT]: facts.format } : {}),
    [MAC]: macOf(deriveSigningKey(masterKey, 'metadata'), macText(backupId, journalMode, fingerprint, size, facts.format)),
  };
}

/**
 * readFacts reads and checks the facts recorded for backupId; anything missing, malformed or not
 * vouched for by one of masterKeys comes back as `authenticated: false` (and without the facts
 * that failed), never as an error: older backups have none.
 */
export function readFacts(backupId: string, metadata: Record<string, string>, masterKeys: readonly Buffer[]): ReadFacts {
  const journalMode = metadata[JOURNAL];
  const fingerprint = metadata[FINGERPRINT];
  if (journalMode === undefined || fingerprint === undefined || !/^[a-z]{1,16}$/.test(journalMode)) return { authenticated: false };
  const text = macText(backupId, journalMode, fingerprint, metadata[SIZE], metadata[FORMAT]);
  const authenticated = masterKeys.some((key) => macMatches(deriveSigningKey(key, 'metadata'), text, metadata[MAC]));
  if (!authenticated) return { authenticated: false };
  const size = metadata[SIZE] !== undefined && /^\d{1,16}$/.test(metadata[SIZE]) ? { size: Number(metadata[SIZE]) } : {};
  const format = metadata[FORMAT] !== undefined ? { format: metadata[FORMAT] } : {};
  try {
    if (fingerprint.startsWith('sha256:') && /^[0-9a-f]{64}$/.test(fingerprint.slice(7))) return { authenticated, journalMode, fingerprint: { digest: fingerprint.slice(7) }, ...size, ...format };
    if (fingerprint.startsWith('z:')) {
      const parsed = JSON.parse(inflateRawSync(Buffer.from(fingerprint.slice(2), 'base64url'), { maxOutputLength: 1 << 20 }).toString('utf8')) as ContentFingerprint;
      return { authenticated, journalMode, fingerprint: parsed, ...size, ...format };
    }
  } catch {
    // Authenticated but unreadable: written by a newer snapkeep, say. The journal mode still holds.
  }
  return { authenticated, journalMode, ...size, ...format };
}
