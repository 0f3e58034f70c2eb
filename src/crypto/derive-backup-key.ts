import { createHash, hkdfSync } from 'node:crypto';
import { SnapkeepError } from '../errors.js';

const MASTER_KEY_LENGTH = 32;

/**
 * deriveBackupKey is the AES-256 key of every CRBU backup made with this master key:
 * HKDF-SHA256(master key, no salt, info "coldrune-backup-key", 32 bytes). The info string is
 * fixed by the format so that other CRBU writers with the same master key interoperate.
 */
export function deriveBackupKey(masterKey: Buffer): Buffer {
  assertMasterKey(masterKey);
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'coldrune-backup-key', 32));
}

/**
 * keyFingerprint is a short public label of a master key (16 hex digits), recorded beside a
 * backup so a restore can try the matching key of MASTER_KEY / MASTER_KEY_PREVIOUS first.
 * It comes from its own HKDF branch, so it tells nothing about the backup key or the master key.
 */
export function keyFingerprint(masterKey: Buffer): string {
  assertMasterKey(masterKey);
  const branch = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'snapkeep-key-fingerprint', 32));
  return createHash('sha256').update(branch).digest('hex').slice(0, 16);
}

function assertMasterKey(masterKey: Buffer): void {
  // Config validation should have caught this; the message never includes the key itself.
  if (masterKey.length !== MASTER_KEY_LENGTH) {
    throw new SnapkeepError('invalid_config', `master key must be ${MASTER_KEY_LENGTH} bytes, got ${masterKey.length}`);
  }
}
