import { Encrypter } from 'age-encryption';
import type { Readable } from 'node:stream';
import { SnapkeepError } from '../errors.js';
import { AsyncScryptRecipient } from './scrypt-stanza.js';
import { fromWebStream, toWebStream } from './web-streams.js';

/**
 * AgeTarget is who can open an age file: whoever knows a passphrase (an scrypt recipient), or the
 * holders of the identities behind some public keys (`age1…`, `age1pq1…`).
 */
export type AgeTarget =
  | { passphrase: string; /** log2 of scrypt's work factor; age's default 18 unless a test needs speed. */ scryptWorkFactor?: number }
  | { recipients: readonly string[] };

/**
 * ageEncrypt is the age encryption (the age-encryption package, age v1 format) of a Node stream,
 * as a Node stream: `age -d` opens the result. It resolves once the header is built, which for a
 * passphrase includes scrypt (work factor 18, on the thread pool: the event loop keeps running).
 */
export async function ageEncrypt(source: Readable, target: AgeTarget): Promise<Readable> {
  const encrypter = new Encrypter();
  if ('passphrase' in target) {
    if (target.passphrase === '') throw new SnapkeepError('invalid_config', 'the passphrase is empty');
    encrypter.addRecipient(new AsyncScryptRecipient(target.passphrase, target.scryptWorkFactor));
  } else {
    if (target.recipients.length === 0) throw new SnapkeepError('invalid_config', 'no age recipient to encrypt to');
    for (const recipient of target.recipients) addRecipient(encrypter, recipient);
  }
  try {
    return fromWebStream(await encrypter.encrypt(toWebStream(source)));
  } catch (error) {
    source.destroy();
    throw error;
  }
}

/** assertAgeRecipients checks public keys before any work starts, naming the first bad one (keys are public). */
export function assertAgeRecipients(recipients: readonly string[]): void {
  const probe = new Encrypter();
  for (const recipient of recipients) addRecipient(probe, recipient);
}

function addRecipient(encrypter: Encrypter, recipient: string): void {
  try {
    encrypter.addRecipient(recipient);
  } catch (error) {
    throw new SnapkeepError('invalid_config', `BACKUP_AGE_RECIPIENTS: ${recipient} is not a valid age public key`, { cause: error });
  }
}
