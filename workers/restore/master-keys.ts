import type { Config } from '../../src/config/config.js';
import { keyFingerprint } from '../../src/crypto/derive-backup-key.js';

/** IndexedKey is a master key and its place in the settings: 0 is MASTER_KEY, n the nth of MASTER_KEY_PREVIOUS. */
export interface IndexedKey {
  key: Buffer;
  index: number;
}

/**
 * masterKeysInOrder lists MASTER_KEY then MASTER_KEY_PREVIOUS, with the key whose fingerprint the
 * backup recorded moved first, so a backup made before a rotation opens on the first download.
 */
export function masterKeysInOrder(config: Config, fingerprint: string | undefined): IndexedKey[] {
  const indexed = [config.masterKey, ...config.previousMasterKeys].flatMap((key, index) => (key ? [{ key, index }] : []));
  if (!fingerprint) return indexed;
  const match = indexed.filter(({ key }) => keyFingerprint(key) === fingerprint);
  return [...match, ...indexed.filter((k) => !match.includes(k))];
}
