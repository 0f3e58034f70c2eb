import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'node:crypto';
import { Stanza, type Identity, type Recipient } from 'age-encryption';

// The age v1 scrypt recipient (age-encryption.org/v1, "The scrypt recipient type"): the file key
// wrapped with ChaCha20-Poly1305 (zero nonce) under scrypt(passphrase, label || 16-byte salt,
// N = 2^logN, r = 8, p = 1). The age-encryption package computes scrypt in pure JavaScript on the
// calling thread, which froze `serve` (API and worker share a process) for seconds; these run
// OpenSSL's scrypt on libuv's thread pool, through the package's documented Recipient and Identity
// interfaces. Payload and header MAC remain the package's.
const LABEL = Buffer.from('age-encryption.org/v1/scrypt', 'latin1');
const SALT_LENGTH = 16;
const FILE_KEY_LENGTH = 16;
const TAG_LENGTH = 16;
const NONCE = Buffer.alloc(12);
/** age's default work factor. */
export const DEFAULT_SCRYPT_LOG_N = 18;
// The package refuses more too: 2^20 already needs 1 GiB of memory.
const MAX_LOG_N = 20;

const base64NoPad = (bytes: Buffer): string => bytes.toString('base64').replace(/=+$/, '');

function deriveWrapKey(passphrase: string, salt: Buffer, logN: number): Promise<Buffer> {
  const N = 2 ** logN;
  return new Promise((resolve, reject) => {
    scrypt(passphrase, Buffer.concat([LABEL, salt]), 32, { N, r: 8, p: 1, maxmem: 128 * N * 8 + 32 * 1024 * 1024 }, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** AsyncScryptRecipient locks an age file with a passphrase, off the event loop. */
export class AsyncScryptRecipient implements Recipient {
  readonly #passphrase: string;
  readonly #logN: number;

  constructor(passphrase: string, logN: number = DEFAULT_SCRYPT_LOG_N) {
    this.#passphrase = passphrase;
    this.#logN = logN;
  }

  async wrapFileKey(fileKey: Uint8Array): Promise<Stanza[]> {
    const salt = randomBytes(SALT_LENGTH);
    const key = await deriveWrapKey(this.#passphrase, salt, this.#logN);
    const cipher = createCipheriv('chacha20-poly1305', key, NONCE, { authTagLength: TAG_LENGTH });
    const body = Buffer.concat([cipher.update(fileKey), cipher.final(), cipher.getAuthTag()]);
    return [new Stanza(['scrypt', base64NoPad(salt), String(this.#logN)], body)];
  }
}

/** AsyncScryptIdentity opens an age file locked with a passphrase, off the event loop; null when the passphrase is wrong. */
export class AsyncScryptIdentity implements Identity {
  readonly #passphrase: string;

  constructor(passphrase: string) {
    this.#passphrase = passphrase;
  }

  async unwrapFileKey(stanzas: Stanza[]): Promise<Uint8Array | null> {
    const stanza = stanzas.find((s) => s.args[0] === 'scrypt');
    if (!stanza) return null;
    // A passphrase must be the file's only lock (age spec), or anyone with it could swap the others.
    if (stanzas.length !== 1) throw new Error('scrypt recipient is not the only one in the header');
    const [, saltText = '', logNText = ''] = stanza.args;
    const salt = Buffer.from(saltText, 'base64');
    if (stanza.args.length !== 3 || !/^[1-9][0-9]*$/.test(logNText) || salt.length !== SALT_LENGTH || base64NoPad(salt) !== saltText
      || stanza.body.length !== FILE_KEY_LENGTH + TAG_LENGTH) {
      throw new Error('invalid scrypt stanza');
    }
    const logN = Number(logNText);
    if (logN > MAX_LOG_N) throw new Error('scrypt work factor is too high');
    const key = await deriveWrapKey(this.#passphrase, salt, logN);
    const body = Buffer.from(stanza.body);
    const decipher = createDecipheriv('chacha20-poly1305', key, NONCE, { authTagLength: TAG_LENGTH });
    decipher.setAuthTag(body.subarray(FILE_KEY_LENGTH));
    try {
      return Buffer.concat([decipher.update(body.subarray(0, FILE_KEY_LENGTH)), decipher.final()]);
    } catch {
      return null;
    }
  }
}
