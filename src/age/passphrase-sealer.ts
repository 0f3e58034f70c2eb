import type { Redis } from 'ioredis';
import type { Config } from '../config/config.js';
import { SnapkeepError } from '../errors.js';
import { sealSecret } from './ephemeral-keyring.js';
import { liveWorkerRecipients } from './worker-recipients.js';
import { masterKeysOf } from '../config/master-keys.js';

/** SealPassphrase turns a passphrase into a box only live worker processes can open, fit for job data. */
export type SealPassphrase = (passphrase: string) => Promise<string>;

/** NoLiveWorkerError: no worker process has announced a key, so nobody could open a sealed passphrase. */
export class NoLiveWorkerError extends SnapkeepError {
  constructor() {
    super('store_unavailable', 'no snapkeep worker is running to take a passphrase backup (start `snapkeep worker` or `snapkeep serve`), or it runs with another MASTER_KEY', { retryable: true });
    this.name = 'NoLiveWorkerError';
  }
}

/**
 * passphraseSealer seals passphrases to the ephemeral public keys of every live worker (see
 * worker-recipients.ts), so the clear passphrase never reaches Redis and whichever worker takes the
 * job can open it. Keys are vouched for by MASTER_KEY or MASTER_KEY_PREVIOUS.
 */
export function passphraseSealer(redis: Redis, config: Pick<Config, 'queuePrefix' | 'masterKey' | 'previousMasterKeys'>): SealPassphrase {
  const masterKeys = masterKeysOf(config);
  return async (passphrase: string) => {
    if (passphrase === '') throw new SnapkeepError('invalid_config', 'the passphrase is empty');
    const recipients = await liveWorkerRecipients(redis, { queuePrefix: config.queuePrefix, masterKeys });
    if (recipients.length === 0) throw new NoLiveWorkerError();
    return sealSecret(passphrase, recipients);
  };
}
