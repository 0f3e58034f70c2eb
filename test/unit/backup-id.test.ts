import { describe, expect, it } from 'vitest';
import { backupObjectName, isBackupId, newBackupId, parseBackupName, parseBackupTime } from '../../src/backups/backup-id.js';

describe('backup ids', () => {
  it('makes ids from the UTC time with 8 random hex digits', () => {
    const at = new Date('2026-11-22T04:05:06.789Z');
    const id = newBackupId(at);
    expect(id).toMatch(/^20261122T040506Z-[0-9a-f]{8}$/);
    expect(parseBackupTime(id)?.toISOString()).toBe('2026-11-22T04:05:06.000Z');
    expect(newBackupId(at)).not.toBe(id);
  });

  it.each([
    ['20261122T040506Z-0123abcd', true],
    ['20261122T040506Z-0123ABCD', false],
    ['20261122T040506Z-0123abc', false],
    ['20261122T040506-0123abcd', false],
    ['20260231T000000Z-0123abcd', false],
    ['20261122T250000Z-0123abcd', false],
    ['../20261122T040506Z-0123abcd', false],
    ['20261122T040506Z-0123abcd\u0000', false],
    ['', false],
  ])('isBackupId(%j) is %s', (value, expected) => {
    expect(isBackupId(value)).toBe(expected);
  });

  it('parses every kind of object name and nothing else', () => {
    expect(parseBackupName('20261122T040506Z-0123abcd.crbu')).toMatchObject({ id: '20261122T040506Z-0123abcd', kind: 'database', encryption: 'master-key' });
    expect(parseBackupName('20261122T040506Z-0123abcd.tar.crbu')).toMatchObject({ kind: 'archive', encryption: 'master-key' });
    expect(parseBackupName('20261122T040506Z-0123abcd.tar.age')).toMatchObject({ kind: 'archive', encryption: 'age' });
    expect(parseBackupName('20261122T040506Z-0123abcd.age')).toMatchObject({ kind: 'database', encryption: 'age' });
    for (const foreign of ['notes.txt', '20261122T040506Z-0123abcd.crbu.bak', 'x/20261122T040506Z-0123abcd.crbu',
      '20261122T040506Z-0123abcd', '20261122T040506Z-0123abcd.tar', '.20261122T040506Z-0123abcd.crbu.partial']) {
      expect(parseBackupName(foreign)).toBeNull();
    }
  });

  it('names objects by kind and encryption', () => {
    const id = '20261122T040506Z-0123abcd';
    expect(backupObjectName(id, 'database', 'master-key')).toBe(`${id}.crbu`);
    expect(backupObjectName(id, 'archive', 'age')).toBe(`${id}.tar.age`);
  });
});
