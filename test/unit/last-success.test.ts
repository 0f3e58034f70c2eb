import { describe, expect, it } from 'vitest';
import { parseJobStats } from '../../src/metrics/job-stats.js';
import { LastSuccessSeal } from '../../src/metrics/last-success.js';

/**
 * The last-success time as stored in Redis (issue 13, finding 6): only a value sealed under the
 * master key, for this very stats hash, counts; anything a Redis writer can make reads as nothing.
 */
describe('LastSuccessSeal', () => {
  const masterKey = Buffer.alloc(32, 1);
  const seal = new LastSuccessSeal(masterKey, 'snapkeep:stats');

  it('opens what it sealed, to the millisecond', () => {
    for (const seconds of [1763784000, 1763784000.5, 1763784000.123]) expect(seal.open(seal.seal(seconds))).toBe(seconds);
    expect(seal.open(undefined)).toBeUndefined();
    expect(seal.open('')).toBeUndefined();
  });

  it.each([
    ['a plain number (what a Redis writer, or an older snapkeep, stores)', '9999999999'],
    ['a made-up MAC', `9999999999:${'ab'.repeat(32)}`],
    ['a real MAC moved onto another time', (() => { const real = seal.seal(1763784000); return `9999999999${real.slice(real.indexOf(':'))}`; })()],
    ['a value sealed with another master key', new LastSuccessSeal(Buffer.alloc(32, 2), 'snapkeep:stats').seal(9999999999)],
    ['a value sealed for another deployment\'s hash', new LastSuccessSeal(masterKey, 'other:stats').seal(9999999999)],
    ['garbage', 'x'.repeat(500)],
    ['a negative or exponent number', '-1:'.padEnd(67, 'a')],
  ])('refuses %s', (_label, stored) => {
    expect(seal.open(stored)).toBe('forged');
  });

  it('parseJobStats reads a forged value as 0 and says so; without a seal nothing counts', () => {
    const forged = parseJobStats({ 'last_success:backup': '9999999999' }, seal);
    expect(forged.lastSuccessfulBackup).toBe(0);
    expect(forged.forgedLastSuccess).toBe('9999999999');
    expect(parseJobStats({ 'last_success:backup': seal.seal(1763784000) }).lastSuccessfulBackup).toBe(0);
    expect(parseJobStats({ 'last_success:backup': seal.seal(1763784000) }, seal)).toMatchObject({ lastSuccessfulBackup: 1763784000 });
  });
});
