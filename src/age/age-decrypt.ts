import { Decrypter, type Identity, type Stanza } from 'age-encryption';
import { Readable } from 'node:stream';
import { SnapkeepError } from '../errors.js';
import { AsyncScryptIdentity } from './scrypt-stanza.js';
import { fromWebStream, toWebStream } from './web-streams.js';

/** AgeKeys are what a restore may hold to open an age file: a passphrase and/or identities. */
export interface AgeKeys {
  passphrase?: string;
  /** `AGE-SECRET-KEY-1…` or `AGE-SECRET-KEY-PQ-1…` strings, e.g. from an identity file. */
  identities?: readonly string[];
}

/** StanzaLock is how an age file is locked, as its header's stanzas say. */
type StanzaLock = 'passphrase' | 'public-key' | 'unknown';

/**
 * ageDecrypt is the plaintext of an age file as a Node stream. It resolves once the header is
 * open (a wrong passphrase or a missing identity rejects here, before any plaintext); each 64 KiB
 * chunk of the payload is authenticated before it is emitted, and a cut or altered payload errors
 * the stream. Errors are SnapkeepErrors whose messages say which key is missing or wrong; an error
 * of the source itself (a dropped download) passes through unchanged, so it stays retryable.
 */
export async function ageDecrypt(source: Readable, keys: AgeKeys): Promise<Readable> {
  let sourceError: unknown;
  source.once('error', (error) => { sourceError = error; });
  const spy = new StanzaSpy();
  const decrypter = new Decrypter();
  decrypter.addIdentity(spy);
  if (keys.passphrase !== undefined) decrypter.addIdentity(new AsyncScryptIdentity(keys.passphrase));
  for (const identity of keys.identities ?? []) decrypter.addIdentity(identity);

  let plaintext: ReadableStream<Uint8Array>;
  try {
    plaintext = await decrypter.decrypt(toWebStream(source));
  } catch (error) {
    source.destroy();
    if (sourceError !== undefined && error === sourceError) throw error;
    throw explainHeaderError(error, spy.lock, keys);
  }
  const inner = fromWebStream(plaintext);
  async function* authenticated(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of inner) yield chunk as Buffer;
    } catch (error) {
      if (sourceError !== undefined && error === sourceError) throw error;
      throw new SnapkeepError('decrypt_failed', 'backup is damaged or was tampered with: its age payload failed authentication', { cause: error });
    }
  }
  return Readable.from(authenticated(), { objectMode: false, highWaterMark: 1024 * 1024 });
}

/** StanzaSpy is an age Identity that opens nothing and remembers how the file is locked. */
class StanzaSpy implements Identity {
  lock: StanzaLock = 'unknown';

  unwrapFileKey(stanzas: Stanza[]): null {
    this.lock = stanzas.some((s) => s.args[0] === 'scrypt') ? 'passphrase' : stanzas.length > 0 ? 'public-key' : 'unknown';
    return null;
  }
}

function explainHeaderError(error: unknown, lock: StanzaLock, keys: AgeKeys): SnapkeepError {
  const message = error instanceof Error ? error.message : String(error);
  const hasIdentities = (keys.identities?.length ?? 0) > 0;
  if (lock === 'unknown') return new SnapkeepError('archive_invalid', 'not an age file, or its header is damaged', { cause: error });
  if (message.includes('invalid header HMAC')) {
    return new SnapkeepError('decrypt_failed', 'backup is damaged or was tampered with: its age header failed authentication', { cause: error });
  }
  if (lock === 'passphrase') {
    if (keys.passphrase === undefined) {
      return new SnapkeepError('identity_required', 'this backup is locked with a passphrase: give it with --passphrase-file (or "passphrase" in the request)', { cause: error });
    }
    return new SnapkeepError('decrypt_failed', 'wrong passphrase, or the backup is damaged', { cause: error });
  }
  if (!hasIdentities) {
    return new SnapkeepError('identity_required',
      'this backup is encrypted to age public keys (BACKUP_AGE_RECIPIENTS) and snapkeep holds no key that can read it: restore it with the CLI and --identity-file', { cause: error });
  }
  return new SnapkeepError('decrypt_failed', 'no identity in the identity file matches a recipient of this backup', { cause: error });
}
