/**
 * formatTable lays rows out as aligned, space-separated columns under a header row: what `list`
 * commands print for people (`--json` is for scripts). Trailing spaces are trimmed.
 */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
