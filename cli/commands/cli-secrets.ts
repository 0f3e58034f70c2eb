import { readFile } from 'node:fs/promises';
import type { Redis } from 'ioredis';
import type { Config } from '../../src/config/config.js';
import type { JobContext } from '../../workers/runtime/job-context.js';
import { UsageError } from '../exit-codes.js';

/** CliSecrets are what the operator handed the CLI in files: a passphrase, age identities. Never argv. */
export interface CliSecrets {
  passphrase?: string;
  identities?: string[];
  /** --trust-unverified: not a secret, but like the identities it stays in this process. */
  trustUnverified?: boolean;
}

/**
 * readCliSecrets reads --passphrase-file (`-` for standard input; one trailing newline dropped, as
 * `echo` and editors add one) and --identity-file. Messages name the file, never its content.
 */
export async function readCliSecrets(options: { passphraseFile?: string; identityFile?: string; queue?: boolean; trustUnverified?: boolean }): Promise<CliSecrets> {
  if (options.identityFile !== undefined && options.queue) {
    throw new UsageError('--identity-file cannot go with --queue: the identity never leaves this machine, so restore here, without --queue');
  }
  if (options.trustUnverified && options.queue) {
    throw new UsageError('--trust-unverified cannot go with --queue: a worker trusts only what its master key verifies; restore here, without --queue');
  }
  const secrets: CliSecrets = options.trustUnverified ? { trustUnverified: true } : {};
  if (options.passphraseFile !== undefined) {
    const path = options.passphraseFile;
    const text = await readFile(path === '-' ? '/dev/stdin' : path, 'utf8').catch((error: NodeJS.ErrnoException) => {
      throw new UsageError(`--passphrase-file: cannot read ${path}: ${error.code ?? error.message}`);
    });
    const passphrase = text.replace(/\r?\n$/, '');
    if (passphrase === '') throw new UsageError(`--passphrase-file: ${path} is empty`);
    secrets.passphrase = passphrase;
  }
  if (options.identityFile !== undefined) {
    const { readIdentityFile } = await import('../../src/age/read-identity-file.js');
    secrets.identities = await readIdentityFile(options.identityFile);
  }
  return secrets;
}

/**
 * sealInProcess prepares a job run in this process: the passphrase is sealed to a keyring that only
 * this process holds (the same path a worker takes), identities ride along in the context.
 */
export async function sealInProcess<D extends object>(data: D, secrets: CliSecrets): Promise<{ data: D & { sealedPassphrase?: string }; context: Pick<JobContext, 'keyring' | 'ageIdentities' | 'trustUnverifiedOrigin'> }> {
  const context: Pick<JobContext, 'keyring' | 'ageIdentities' | 'trustUnverifiedOrigin'> = {};
  if (secrets.identities) context.ageIdentities = secrets.identities;
  if (secrets.trustUnverified) context.trustUnverifiedOrigin = true;
  if (secrets.passphrase === undefined) return { data, context };
  // age-encryption loads only when a secret is given: every other command skips its memory and start-up.
  const { EphemeralKeyring, sealSecret } = await import('../../src/age/ephemeral-keyring.js');
  const keyring = await EphemeralKeyring.create();
  context.keyring = keyring;
  return { data: { ...data, sealedPassphrase: await sealSecret(secrets.passphrase, [keyring.recipient]) }, context };
}

/** sealForQueue seals the passphrase for the live workers of the running service, as the API does. */
export async function sealForQueue<D extends object>(data: D, secrets: CliSecrets, redis: Redis, config: Config): Promise<D & { sealedPassphrase?: string }> {
  if (secrets.passphrase === undefined) return data;
  const { passphraseSealer } = await import('../../src/age/passphrase-sealer.js');
  return { ...data, sealedPassphrase: await passphraseSealer(redis, config)(secrets.passphrase) };
}
