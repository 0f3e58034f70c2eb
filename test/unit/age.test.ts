import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { Decrypter, Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ageDecrypt, type AgeKeys } from '../../src/age/age-decrypt.js';
import { ageEncrypt, assertAgeRecipients, type AgeTarget } from '../../src/age/age-encrypt.js';
import { EphemeralKeyring, sealSecret } from '../../src/age/ephemeral-keyring.js';
import { readIdentityFile } from '../../src/age/read-identity-file.js';
import { SnapkeepError } from '../../src/errors.js';
import { removeDir } from '../helpers/redis-server.js';

// A low scrypt work factor keeps these tests fast; production uses age's default (18).
const FAST: Pick<Extract<AgeTarget, { passphrase: string }>, 'scryptWorkFactor'> = { scryptWorkFactor: 10 };
const PLAINTEXT = Buffer.concat(Array.from({ length: 5 }, (_, i) => Buffer.alloc(100_000, i)));

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const encrypt = async (target: AgeTarget, plaintext = PLAINTEXT): Promise<Buffer> => collect(await ageEncrypt(Readable.from([plaintext]), target));
const decrypt = async (file: Buffer, keys: AgeKeys): Promise<Buffer> => collect(await ageDecrypt(Readable.from([file]), keys));

async function failure(promise: Promise<unknown>): Promise<SnapkeepError> {
  const error = await promise.then(() => { throw new Error('it succeeded'); }, (e: unknown) => e);
  expect(error).toBeInstanceOf(SnapkeepError);
  return error as SnapkeepError;
}

describe('age streams (age-encryption package)', () => {
  let identity: string;
  let recipient: string;
  let dir: string;

  beforeAll(async () => {
    identity = await generateX25519Identity();
    recipient = await identityToRecipient(identity);
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-age-'));
  });
  afterAll(() => { if (dir) removeDir(dir); });

  it('round-trips a passphrase and public keys', async () => {
    expect(await decrypt(await encrypt({ passphrase: 'pass word', ...FAST }), { passphrase: 'pass word' })).toEqual(PLAINTEXT);
    const other = await identityToRecipient(await generateX25519Identity());
    expect(await decrypt(await encrypt({ recipients: [other, recipient] }), { identities: [identity] })).toEqual(PLAINTEXT);
  });

  it('locks passphrases exactly as the age-encryption package does, both ways', async () => {
    const ours = await encrypt({ passphrase: 'shared secret', ...FAST });
    const byPackage = new Decrypter();
    byPackage.addPassphrase('shared secret');
    expect(Buffer.from(await byPackage.decrypt(new Uint8Array(ours))).equals(PLAINTEXT)).toBe(true);
    const packaged = new Encrypter();
    packaged.setPassphrase('shared secret');
    packaged.setScryptWorkFactor(10);
    expect(await decrypt(Buffer.from(await packaged.encrypt(new Uint8Array(PLAINTEXT))), { passphrase: 'shared secret' })).toEqual(PLAINTEXT);
  });

  it('keeps the event loop running through scrypt at the default work factor', async () => {
    let longestGap = 0;
    let last = Date.now();
    const ticker = setInterval(() => { const now = Date.now(); longestGap = Math.max(longestGap, now - last); last = now; }, 10);
    try {
      const file = await encrypt({ passphrase: 'default work factor' });
      expect(file.toString('latin1', 0, 200)).toMatch(/-> scrypt \S+ 18\n/);
      expect(await decrypt(file, { passphrase: 'default work factor' })).toEqual(PLAINTEXT);
    } finally {
      clearInterval(ticker);
    }
    // scrypt itself takes seconds here; the loop must never stall for anything like that.
    expect(longestGap).toBeLessThan(1000);
  });

  it('says which key is missing or wrong', async () => {
    const locked = await encrypt({ passphrase: 'right', ...FAST });
    expect(await failure(decrypt(locked, { passphrase: 'wrong' }))).toMatchObject({ code: 'decrypt_failed', message: 'wrong passphrase, or the backup is damaged' });
    expect((await failure(decrypt(locked, {}))).message).toMatch(/locked with a passphrase: give it with --passphrase-file/);
    const forKeys = await encrypt({ recipients: [recipient] });
    expect(await failure(decrypt(forKeys, {}))).toMatchObject({ code: 'identity_required' });
    expect((await failure(decrypt(forKeys, { passphrase: 'x' }))).message).toMatch(/--identity-file/);
    const stranger = await generateX25519Identity();
    expect((await failure(decrypt(forKeys, { identities: [stranger] }))).message).toBe('no identity in the identity file matches a recipient of this backup');
    expect((await failure(decrypt(Buffer.from('not age at all\n'), { identities: [identity] }))).code).toBe('archive_invalid');
  });

  it('fails a tampered or cut payload in the stream, and passes a source failure through', async () => {
    const file = await encrypt({ recipients: [recipient] });
    const tampered = Buffer.from(file);
    tampered[tampered.length - 1000] ^= 1;
    expect((await failure(decrypt(tampered, { identities: [identity] }))).message).toBe('backup is damaged or was tampered with: its age payload failed authentication');
    expect((await failure(decrypt(file.subarray(0, file.length - 70_000), { identities: [identity] }))).code).toBe('decrypt_failed');
    const source = new PassThrough();
    source.write(file.subarray(0, 100_000));
    const cut = new Error('connection reset');
    setTimeout(() => source.destroy(cut), 20);
    // Whether the cut comes during the header or the payload, the source's own error comes out.
    const thrown = await (async () => collect(await ageDecrypt(source, { identities: [identity] })))().then(() => null, (e: unknown) => e);
    expect(thrown).toBe(cut);
  });

  it('writes files the Debian age CLI opens, and opens files it writes', async () => {
    const keyFile = join(dir, 'key.txt');
    writeFileSync(keyFile, `# created: now\n# public key: ${recipient}\n${identity}\n`);
    const ours = await encrypt({ recipients: [recipient] });
    const opened = spawnSync('age', ['-d', '-i', keyFile], { input: ours, maxBuffer: 10 * PLAINTEXT.length });
    expect(opened.status, opened.stderr.toString()).toBe(0);
    expect(opened.stdout.equals(PLAINTEXT)).toBe(true);
    const theirs = spawnSync('age', ['-e', '-r', recipient], { input: PLAINTEXT, maxBuffer: 10 * PLAINTEXT.length });
    expect(await decrypt(theirs.stdout, { identities: await readIdentityFile(keyFile) })).toEqual(PLAINTEXT);
  });

  it('validates recipients and identity files without echoing keys', async () => {
    expect(() => assertAgeRecipients(['age1notakey'])).toThrow('BACKUP_AGE_RECIPIENTS: age1notakey is not a valid age public key');
    const bad = join(dir, 'bad.txt');
    writeFileSync(bad, `# comment\n${identity}\nAGE-SECRET-KEY-1NOTREALLYAKEY\n`);
    const error = await failure(readIdentityFile(bad));
    expect(error.message).toBe(`${bad}, line 3: not an age identity (AGE-SECRET-KEY-1…)`);
  });
});

describe('ephemeral keyrings: passphrases sealed for live workers', () => {
  it('opens a passphrase sealed for any of its keyrings, and refuses one sealed for keyrings that are gone', async () => {
    const [a, b, gone] = await Promise.all([EphemeralKeyring.create(), EphemeralKeyring.create(), EphemeralKeyring.create()]);
    const sealed = await sealSecret('correct horse', [a.recipient, b.recipient]);
    expect(sealed).not.toContain('correct horse');
    expect(await a.open(sealed)).toBe('correct horse');
    expect(await b.open(sealed)).toBe('correct horse');
    const error = await failure(gone.open(sealed));
    expect(error).toMatchObject({ code: 'identity_required', retryable: false });
    expect(error.message).toMatch(/request the backup again/);
  });

  it('never shows its identity when logged or serialised', async () => {
    const keyring = await EphemeralKeyring.create();
    expect(JSON.stringify(keyring)).toBe(JSON.stringify({ recipient: keyring.recipient }));
    expect(JSON.stringify({ ...keyring })).not.toContain('AGE-SECRET-KEY');
  });
});
