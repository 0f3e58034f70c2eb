import { lstat, readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Names of what an apply or a rollback keeps aside instead of deleting: `{path}.pre-apply.{UTC
 * time}` for what an apply replaced, `{path}.pre-rollback.{UTC time}` for what a rollback took out
 * of place; a database's sidecars follow its aside name (`….pre-apply.{time}-wal`), so SQLite
 * still pairs them. The time is `YYYYMMDDTHHMMSSZ`, with `-2`, `-3`… when a name is taken.
 */
export type AsideKind = 'pre-apply' | 'pre-rollback';

const STAMP = String.raw`(\d{8}T\d{6}Z)(?:-(\d+))?`;

/** asidePath is where path is kept aside by an operation of this kind and time stamp. */
export const asidePath = (path: string, kind: AsideKind, stamp: string): string => `${path}.${kind}.${stamp}`;

/** utcStamp is a time as `YYYYMMDDTHHMMSSZ`. */
export const utcStamp = (date: Date): string => date.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');

/**
 * chooseStamp is the first stamp for `now` under which none of the names namesFor gives exists:
 * every path of one operation shares one stamp, and nothing kept aside before is ever replaced.
 */
export async function chooseStamp(now: Date, namesFor: (stamp: string) => string[]): Promise<string> {
  const base = utcStamp(now);
  for (let n = 1; ; n++) {
    const stamp = n === 1 ? base : `${base}-${n}`;
    const taken = await Promise.all(namesFor(stamp).map((name) => lstat(name).then(() => true, () => false)));
    if (!taken.includes(true)) return stamp;
  }
}

/** newestAside finds the newest `{path}.{kind}.{stamp}` beside path (not its sidecars), or undefined. */
export async function newestAside(path: string, kind: AsideKind): Promise<{ path: string; stamp: string } | undefined> {
  const prefix = `${basename(path)}.${kind}.`;
  const pattern = new RegExp(`^${STAMP}$`);
  const found = (await readdir(dirname(path)))
    .filter((name) => name.startsWith(prefix))
    .map((name) => ({ name, match: pattern.exec(name.slice(prefix.length)) }))
    .filter((e): e is { name: string; match: RegExpExecArray } => e.match !== null)
    .sort((a, b) => a.match[1]!.localeCompare(b.match[1]!) || Number(a.match[2] ?? 1) - Number(b.match[2] ?? 1));
  const newest = found.at(-1);
  return newest ? { path: join(dirname(path), newest.name), stamp: newest.name.slice(prefix.length) } : undefined;
}
