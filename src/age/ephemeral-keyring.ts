import { Decrypter, Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { SnapkeepError } from '../errors.js';

/** PassphraseKeyring opens passphrases sealed for this process (see sealSecret). */
export interface PassphraseKeyring {
  /** The public half, `age1…`: what a producer seals to. */
  readonly recipient: string;
  /** open returns the secret inside a sealed box, or throws when it was not sealed for this process. */
  open(sealed: string): Promise<string>;
}

/**
 * EphemeralKeyring is an age X25519 identity that lives only in this process's memory: made at
 * start, never written anywhere, gone when the process ends. A passphrase sealed to it in Redis
 * is unreadable by anyone with Redis access, and stays unreadable after the process is gone.
 */
export class EphemeralKeyring implements PassphraseKeyring {
  // A private field: never enumerated, so a logged or serialised keyring shows no secret.
  readonly #identity: string;
  readonly recipient: string;

  private constructor(identity: string, recipient: string) {
    this.#identity = identity;
    this.recipient = recipient;
  }

  /** create makes a fresh identity. */
  static async create(): Promise<EphemeralKeyring> {
    const identity = await generateX25519Identity();
    return new EphemeralKeyring(identity, await identityToRecipient(identity));
  }

  async open(sealed: string): Promise<string> {
    const decrypter = new Decrypter();
    decrypter.addIdentity(this.#identity);
    try {
      return await decrypter.decrypt(Buffer.from(sealed, 'base64'), 'text');
    } catch (error) {
      throw new SnapkeepError('identity_required',
        'the passphrase of this request was sealed for worker processes that are no longer running, and it is stored nowhere else: request the backup again',
        { cause: error });
    }
  }

  toJSON(): { recipient: string } {
    return { recipient: this.recipient };
  }
}

/** sealSecret encrypts a short secret to age recipients and returns it as base64, for job data. */
export async function sealSecret(secret: string, recipients: readonly string[]): Promise<string> {
  const encrypter = new Encrypter();
  for (const recipient of recipients) encrypter.addRecipient(recipient);
  return Buffer.from(await encrypter.encrypt(secret)).toString('base64');
}
