import { randomBytes } from 'node:crypto';

/** BackupKind is what a backup holds: the database alone, or an archive with included paths. */
export type BackupKind = 'database' | 'archive';
/** BackupEncryption is who can read a backup: the master key, a passphrase, or age identities. */
export type BackupEncryption = 'master-key' | 'age';

/**
 * BackupCompression is whether the plaintext is zstd (one or more frames). An age object's name says so
 * (`.zst.age`); a CRBU object's version byte does (3 and 4), its name does not.
 */
export type BackupCompression = 'none' | 'zstd';

/**
 * BackupName is a parsed object name: `{id}.crbu`, `{id}.tar.crbu`, `{id}.tar.age`, `{id}.age`,
 * `{id}.tar.zst.age` or `{id}.zst.age`.
 */
export interface BackupName {
  id: string;
  createdAt: Date;
  kind: BackupKind;
  encryption: BackupEncryption;
  /** From the name: `zstd` for `.zst.age`; `none` for the others (a CRBU object's header may still say zstd). */
  compression: BackupCompression;
  /** The object name relative to the store's prefix. */
  name: string;
}

const ID_PATTERN = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z-([0-9a-f]{8})$/;
const NAME_PATTERN = /^(\d{8}T\d{6}Z-[0-9a-f]{8})(\.crbu|\.tar\.crbu|\.tar\.age|\.age|\.tar\.zst\.age|\.zst\.age)$/;

const SUFFIXES: Record<string, { kind: BackupKind; encryption: BackupEncryption; compression: BackupCompression }> = {
  '.crbu': { kind: 'database', encryption: 'master-key', compression: 'none' },
  '.tar.crbu': { kind: 'archive', encryption: 'master-key', compression: 'none' },
  '.tar.age': { kind: 'archive', encryption: 'age', compression: 'none' },
  '.age': { kind: 'database', encryption: 'age', compression: 'none' },
  '.tar.zst.age': { kind: 'archive', encryption: 'age', compression: 'zstd' },
  '.zst.age': { kind: 'database', encryption: 'age', compression: 'zstd' },
};

/** newBackupId makes `YYYYMMDDTHHMMSSZ-xxxxxxxx` from the snapshot's UTC time and 8 random hex digits. */
export function newBackupId(at: Date = new Date()): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  return `${stamp}-${randomBytes(4).toString('hex')}`;
}

/** isBackupId says whether a string has exactly the backup-id shape and names a real UTC time. */
export function isBackupId(value: string): boolean {
  return parseBackupTime(value) !== null;
}

/** parseBackupTime reads the UTC time inside a backup id, or null when it is not an id. */
export function parseBackupTime(id: string): Date | null {
  const m = ID_PATTERN.exec(id);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const at = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  // Reject ids such as 20260231T…: Date.UTC would silently roll them into March.
  if (at.getUTCMonth() !== month - 1 || at.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) return null;
  return at;
}

/** parseBackupName reads an object name; anything not of exactly a backup's shape is null. */
export function parseBackupName(name: string): BackupName | null {
  const m = NAME_PATTERN.exec(name);
  if (!m) return null;
  const id = m[1]!;
  const createdAt = parseBackupTime(id);
  if (!createdAt) return null;
  return { id, createdAt, name, ...SUFFIXES[m[2]!]! };
}

/**
 * backupObjectName is the name a backup of this id, kind and encryption is stored under. Only an
 * age object's name carries its compression; a CRBU object's is in its version byte.
 */
export function backupObjectName(id: string, kind: BackupKind, encryption: BackupEncryption, compression: BackupCompression = 'none'): string {
  const named = encryption === 'age' ? compression : 'none';
  const suffix = Object.entries(SUFFIXES).find(([, v]) => v.kind === kind && v.encryption === encryption && v.compression === named)![0];
  return `${id}${suffix}`;
}
