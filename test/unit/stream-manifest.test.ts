import { describe, expect, it } from 'vitest';
import { parseManifest, serializeManifest, type AnyArchiveManifest, type ManifestEntry } from '../../src/archive/manifest.js';
import { SnapkeepError } from '../../src/errors.js';

const BACKUP_ID = '20261122T010203Z-0a0b0c0d';
const SHA = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const stream = (path: string, extra: Partial<ManifestEntry> = {}): ManifestEntry =>
  ({ path, type: 'file', size: 0, mode: '0600', mtime: '2026-11-22T01:02:03.000Z', sha256: SHA, ...extra });
const manifest = (entries: ManifestEntry[], extra: Partial<AnyArchiveManifest> = {}): Buffer => serializeManifest({
  format: 'snapkeep-archive', formatVersion: 2, snapkeepVersion: '0.3.0', backupId: BACKUP_ID, createdAt: '2026-11-22T01:02:03.000Z',
  sources: [], exclude: [], entries, skipped: [], ...extra,
});
const refusal = (bytes: Buffer): string => {
  try {
    parseManifest(bytes, BACKUP_ID);
  } catch (error) {
    expect(error).toBeInstanceOf(SnapkeepError);
    expect((error as SnapkeepError).code).toBe('archive_invalid');
    return (error as Error).message;
  }
  throw new Error('the manifest was accepted');
};

/** The manifest is untrusted input: a stream member must be exactly `streams/{name}`, a file. */
describe('manifests of archives with streams, or without a database', () => {
  it('accepts a version-2 archive of only streams, with no database', () => {
    expect(parseManifest(manifest([stream('streams/mail')]), BACKUP_ID).database).toBeUndefined();
  });

  it('refuses stream names that leave streams/ or go deeper', () => {
    for (const path of ['streams/..', 'streams/../files/x', 'streams/a/b', 'streams/.hidden', 'streams/A']) {
      expect(refusal(manifest([stream(path)])), path).toContain('unsafe path');
    }
  });

  it('refuses a stream that is not a file', () => {
    expect(refusal(manifest([{ path: 'streams/mail', type: 'symlink', size: 0, mode: '0777', mtime: '2026-11-22T01:02:03.000Z', linkTarget: '/etc/passwd' }])))
      .toContain('lists the stream streams/mail as a symlink');
  });

  it('refuses a version-1 manifest without a database: every archive of that version had one', () => {
    expect(refusal(manifest([stream('streams/mail')], { formatVersion: 1 }))).toContain('"database" is required');
  });
});
