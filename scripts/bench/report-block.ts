import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/**
 * writeReportBlock replaces the text between `<!-- NAME:begin -->` and `<!-- NAME:end -->` in file
 * (docs/benchmarks.md), so each benchmark of `npm run bench` rewrites its own tables and leaves the
 * rest (scripts/bench.ts keeps everything from `## Notes` on, where these blocks live). A file
 * without the markers is left alone; it returns what it did, for the caller's log.
 */
export function writeReportBlock(file: string, name: string, block: string): string {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const from = text.indexOf(begin);
  const to = text.indexOf(end);
  if (from < 0 || to < from) return `${file} has no ${begin} … ${end} block: the tables above are not written there`;
  writeFileSync(file, `${text.slice(0, from + begin.length)}\n${block}\n${text.slice(to)}`);
  return `written to ${file} (${name} block)`;
}
