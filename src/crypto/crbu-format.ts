/**
 * CRBU envelope layout: "CRBU" | version (1 byte) | nonce (12 bytes) | AES-256-GCM ciphertext |
 * tag (16 bytes). Shared by the encrypt and decrypt streams so both read one definition.
 */
export const CRBU_MAGIC = Buffer.from('CRBU', 'ascii');
export const CRBU_NONCE_LENGTH = 12;
export const CRBU_HEADER_LENGTH = CRBU_MAGIC.length + 1 + CRBU_NONCE_LENGTH;
export const CRBU_TAG_LENGTH = 16;
export const CRBU_CIPHER = 'aes-256-gcm';

/**
 * CrbuVersion is the envelope's version byte: 1 wraps a database snapshot, 2 an archive (tar),
 * 3 zstd frames of a database snapshot, 4 zstd frames of an archive (one or more frames each). Same layout and key for all.
 */
export type CrbuVersion = 1 | 2 | 3 | 4;

/** The versions whose plaintext is zstd (one or more frames). */
export const ZSTD_CRBU_VERSIONS: ReadonlySet<number> = new Set([3, 4]);
