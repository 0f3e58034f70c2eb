import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const vectors = fileURLToPath(new URL('../fixtures/crbu-vectors/', import.meta.url));
const script = fileURLToPath(new URL('../../docs/restore-by-hand/decrypt-crbu.mjs', import.meta.url));

describe('the README\'s restore-by-hand recipe', () => {
  it('decrypts the shared vector sample.db.crbu with nothing but Node', () => {
    const dir = mkdtempSync(join(tmpdir(), 'snapkeep-byhand-'));
    try {
      const out = join(dir, 'out.db');
      execFileSync(process.execPath, [script, '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', join(vectors, 'sample.db.crbu'), out]);
      expect(readFileSync(out).equals(readFileSync(join(vectors, 'sample.db')))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a wrong key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'snapkeep-byhand-'));
    try {
      expect(() => execFileSync(process.execPath, [script, 'ff'.repeat(32), join(vectors, 'sample.db.crbu'), join(dir, 'out.db')], { stdio: 'pipe' })).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
