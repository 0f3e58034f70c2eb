import { describe, expect, it } from 'vitest';
import { parseIsoTime } from '../../cli/commands/parse-iso-time.js';

describe('parseIsoTime (the CLI\'s --at)', () => {
  it.each([
    ['2026-11-20', '2026-11-20T00:00:00.000Z'],
    ['2026-11-20T12:00Z', '2026-11-20T12:00:00.000Z'],
    ['2026-11-20T12:00:05Z', '2026-11-20T12:00:05.000Z'],
    ['2026-11-20T12:00:05.250Z', '2026-11-20T12:00:05.250Z'],
    ['2026-11-20T00:30:00+01:00', '2026-11-19T23:30:00.000Z'],
    ['2028-02-29T23:59:59-05:00', '2028-03-01T04:59:59.000Z'],
  ])('%s is %s', (text, iso) => {
    expect(parseIsoTime(text)?.toISOString()).toBe(iso);
  });

  it.each([
    '1', 'Mar 5', 'yesterday', '', '2026-11-20T12:00:00', '2026-02-31', '2026-02-29T00:00:00Z', '2026-13-01',
    '2026-11-20T24:00:00Z', '2026-11-20T12:60:00Z', '2026-11-20T12:00:00+25:00', '2026-11-20 12:00:00Z', '20261120T120000Z',
  ])('refuses %j', (text) => {
    expect(parseIsoTime(text)).toBeNull();
  });
});
