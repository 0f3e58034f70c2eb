import { readdir, readFile, stat } from 'node:fs/promises';
import { SnapkeepError } from '../errors.js';

/** Holder is a process that has one of the files open: its pid and command line. */
export interface Holder {
  pid: number;
  command: string;
}

const PROC = '/proc';
// A command line is quoted in messages: enough to recognise the application.
const COMMAND_CHARS = 200;

/**
 * findHolders lists the processes that have any of paths open, by reading every `/proc/{pid}/fd`
 * (Linux) and comparing device and inode, so a file open under another name (a hard link, a
 * bind mount) counts too. Missing paths are skipped. Processes this user may not inspect (other
 * users', unless root) are not seen: run apply as root, or as the application's user.
 */
export async function findHolders(paths: readonly string[]): Promise<Holder[]> {
  const wanted = new Set<string>();
  for (const path of paths) {
    const info = await stat(path, { bigint: true }).catch(() => undefined);
    if (info) wanted.add(`${info.dev}:${info.ino}`);
  }
  if (wanted.size === 0) return [];
  let pids: string[];
  try {
    pids = (await readdir(PROC)).filter((name) => /^\d+$/.test(name));
  } catch {
    throw new SnapkeepError('apply_refused', `cannot tell which processes have ${paths[0]} open: ${PROC} is not readable (apply needs Linux)`);
  }
  const holders: Holder[] = [];
  for (const pid of pids) {
    if (await holdsAny(pid, wanted)) holders.push({ pid: Number(pid), command: await commandOf(pid) });
  }
  return holders;
}

async function holdsAny(pid: string, wanted: Set<string>): Promise<boolean> {
  const fds = await readdir(`${PROC}/${pid}/fd`).catch(() => [] as string[]);
  for (const fd of fds) {
    const info = await stat(`${PROC}/${pid}/fd/${fd}`, { bigint: true }).catch(() => undefined);
    if (info && wanted.has(`${info.dev}:${info.ino}`)) return true;
  }
  return false;
}

async function commandOf(pid: string): Promise<string> {
  const cmdline = await readFile(`${PROC}/${pid}/cmdline`).catch(() => Buffer.alloc(0));
  const words = cmdline.toString('utf8').split('\0').join(' ').replace(/\s+/g, ' ').trim();
  const command = words !== '' ? words : (await readFile(`${PROC}/${pid}/comm`, 'utf8').catch(() => '?')).trim();
  return command.length > COMMAND_CHARS ? `${command.slice(0, COMMAND_CHARS)}…` : command;
}

/** describeHolders names holders for a message: `pid 123 (node app.js), pid 456 (…)`; this process is marked. */
export function describeHolders(holders: readonly Holder[]): string {
  return holders.map((h) => `pid ${h.pid} (${h.command}${h.pid === process.pid ? '; this snapkeep process' : ''})`).join(', ');
}
