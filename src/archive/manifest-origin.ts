import { isAbsolute, resolve } from 'node:path';
import { canonicalJson, deriveSigningKey, macMatches, macOf } from '../crypto/signing-keys.js';
import { keyFingerprint } from '../crypto/derive-backup-key.js';
import { SnapkeepError } from '../errors.js';
import type { AnyArchiveManifest } from './manifest.js';

/**
 * Archive provenance (issue 13, finding 4). An age archive can be made by anyone who holds the
 * public key (or the passphrase) and dropped into the bucket: its age envelope says nothing of who
 * made it. So every manifest carries an HMAC, under a key derived from the master key, over all of
 * its fields; the manifest lists every file's SHA-256, so the MAC vouches for the whole archive.
 * A CRBU archive is already authenticated by the master key (AES-GCM), and is checked the same way
 * when its manifest carries the MAC.
 */

/** ManifestAuthenticator is the manifest's `authenticator` field. */
export interface ManifestAuthenticator {
  alg: 'hmac-sha256';
  /** Which master key made it (keyFingerprint), so a restore tries that key first. */
  key: string;
  mac: string;
}

/** Origin is what a restore could establish about who made an archive. */
export type ArchiveOrigin = 'verified' | 'unverified';

type Unsigned = Omit<AnyArchiveManifest, 'authenticator'>;

const macText = (manifest: Unsigned): string => canonicalJson({ purpose: 'snapkeep-archive-manifest', manifest });

/** signManifest returns the manifest with its authenticator. */
export function signManifest(manifest: AnyArchiveManifest, masterKey: Buffer): AnyArchiveManifest {
  const { authenticator: _ignored, ...unsigned } = manifest;
  const authenticator: ManifestAuthenticator = { alg: 'hmac-sha256', key: keyFingerprint(masterKey), mac: macOf(deriveSigningKey(masterKey, 'manifest'), macText(unsigned)) };
  return { ...unsigned, authenticator };
}

/**
 * checkManifestOrigin decides whether a restore may go on with this manifest, before anything is
 * written or printed. With a master key at hand the MAC must match one of them; without one (an
 * age archive restored with only --identity-file), or with no MAC at all (an age archive made
 * before 0.2), the origin cannot be verified: the restore stops unless the operator said
 * `--trust-unverified`. `encryptedWithMasterKey`: a CRBU archive, whose envelope already proves
 * a master-key holder made it.
 */
export function checkManifestOrigin(
  manifest: AnyArchiveManifest,
  options: { masterKeys: readonly Buffer[]; encryptedWithMasterKey: boolean; trustUnverified: boolean },
): ArchiveOrigin {
  checkDestinations(manifest);
  const auth = manifest.authenticator;
  if (auth !== undefined) {
    const { authenticator: _ignored, ...unsigned } = manifest;
    const text = macText(unsigned);
    if (options.masterKeys.some((key) => macMatches(deriveSigningKey(key, 'manifest'), text, auth.mac))) return 'verified';
    if (options.masterKeys.length > 0 && !options.trustUnverified) {
      throw new SnapkeepError('unverified_origin', 'the archive\'s manifest does not match its authenticator under any configured master key: it was altered, forged, or made by another installation (restore with --trust-unverified only if you know where it came from)');
    }
  }
  if (options.encryptedWithMasterKey) return 'verified';
  if (options.trustUnverified) return 'unverified';
  const why = options.masterKeys.length === 0
    ? 'no master key is configured here (MASTER_KEY), so the origin of this age archive cannot be verified'
    : 'this age archive carries no authenticator, so its origin cannot be verified';
  throw new SnapkeepError('unverified_origin', `${why}: anyone with the public key or passphrase could have made it. Restore with --trust-unverified to go on anyway`);
}

/**
 * checkDestinations refuses a manifest whose moves would name anything but the absolute,
 * normalised paths it says it backed up: every include path and the database's source.
 */
function checkDestinations(manifest: AnyArchiveManifest): void {
  const entries = new Set(manifest.entries.map((e) => e.path));
  const bad = (what: string, path: string): SnapkeepError =>
    new SnapkeepError('archive_invalid', `archive is damaged or was tampered with: ${what} ${JSON.stringify(path)} is not an absolute, normalised path it may be restored to`);
  const isDestination = (p: string): boolean => isAbsolute(p) && resolve(p) === p && p !== '/' && !p.includes('\0') && !/^\/(proc|sys|dev)(\/|$)/.test(p);
  for (const source of manifest.sources) {
    if (!isDestination(source.path)) throw bad('include path', source.path);
    if (!entries.has(source.archivePath)) throw bad('the archived copy of', source.path);
  }
  if (manifest.database && !isDestination(manifest.database.source)) throw bad('database source', manifest.database.source);
}
