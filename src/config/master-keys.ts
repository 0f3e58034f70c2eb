import type { Config } from './config.js';

/** masterKeysOf is MASTER_KEY then MASTER_KEY_PREVIOUS, the keys that may vouch for a record or open a backup. */
export function masterKeysOf(config: Pick<Config, 'masterKey' | 'previousMasterKeys'>): Buffer[] {
  return [config.masterKey, ...config.previousMasterKeys].filter((k): k is Buffer => k !== undefined);
}
