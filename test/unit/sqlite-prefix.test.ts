import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readSqlitePrefix } from '../../src/snapshot/verify-sqlite.js';

/** header is a 100-byte SQLite header with this page size, page count and counters. */
function header(pageSize: number, pages: number, changeCounter = 7, validFor = changeCounter): Buffer {
  const h = Buffer.alloc(100);
  h.write('SQLite format 3\0', 0, 'latin1');
  h.writeUInt16BE(pageSize === 65536 ? 1 : pageSize, 16);
  h.writeUInt32BE(changeCounter, 24);
  h.writeUInt32BE(pages, 28);
  h.writeUInt32BE(validFor, 92);
  return h;
}

describe('readSqlitePrefix', () => {
  it.each([
    ['noise', Buffer.from('0123456789abcdef0123'), { kind: 'foreign' }],
    ['too few bytes to tell', Buffer.from('SQLite'), { kind: 'foreign' }],
    ['the magic, cut short', Buffer.from('SQLite format'), { kind: 'partial' }],
    ['a header cut short', header(4096, 9).subarray(0, 60), { kind: 'partial' }],
    ['a full header', header(4096, 9), { kind: 'header', pageSize: 4096, expectedSize: 36864 }],
    ['64 KiB pages (stored as 1)', header(65536, 3), { kind: 'header', pageSize: 65536, expectedSize: 196608 }],
    ['a stale page count (legacy writer)', header(1024, 9, 8, 7), { kind: 'header', pageSize: 1024, expectedSize: null }],
    ['no page count', header(1024, 0), { kind: 'header', pageSize: 1024, expectedSize: null }],
  ] as const)('%s', (_label, bytes, expected) => {
    expect(readSqlitePrefix(Buffer.from(bytes))).toEqual(expected);
  });

  it('reads the shared vector sample.db as 9 pages of 4 KiB', () => {
    const image = readFileSync(new URL('../fixtures/crbu-vectors/sample.db', import.meta.url));
    expect(readSqlitePrefix(image.subarray(0, 100))).toEqual({ kind: 'header', pageSize: 4096, expectedSize: image.length });
  });
});
