import type { Redis } from 'ioredis';
import { EphemeralKeyring } from '../../src/age/ephemeral-keyring.js';
import { publishRecipient, type RecipientPublication } from '../../src/age/worker-recipients.js';
import type { Config } from '../../src/config/config.js';
import type { Logger } from '../../src/logging/create-logger.js';

/** RunningKeyring is a worker process's passphrase keyring and its announcement in Redis. */
export interface RunningKeyring {
  keyring: EphemeralKeyring;
  stop(): Promise<void>;
}

/**
 * startPassphraseKeyring makes this worker process's ephemeral age identity and announces its
 * public key in Redis (vouched for by MASTER_KEY), so that the API can seal passphrases to it.
 * The identity is never written anywhere: when the process ends, so does every sealed passphrase.
 */
export async function startPassphraseKeyring(redis: Redis, config: Config, logger: Logger): Promise<RunningKeyring> {
  const keyring = await EphemeralKeyring.create();
  let publication: RecipientPublication | undefined;
  if (config.masterKey) {
    publication = await publishRecipient(redis, { queuePrefix: config.queuePrefix, masterKey: config.masterKey, recipient: keyring.recipient, logger });
    logger.info('passphrase key announced', { recipient: keyring.recipient });
  }
  return {
    keyring,
    async stop() {
      await publication?.stop();
    },
  };
}
