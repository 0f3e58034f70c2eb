import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';

const betterSqlitePath = createRequire(import.meta.url).resolve('better-sqlite3');

// Opens the database as an application would, adds a row to `notes` when asked to, reads, and
// keeps the connection open until killed (a SIGTERM or SIGKILL leaves its -wal and -shm behind).
const HOLDER_SCRIPT = `
const Database = require(${JSON.stringify(betterSqlitePath)});
const [dbPath, insert] = process.argv.slice(1);
const db = new Database(dbPath);
if (insert === 'insert') db.prepare('INSERT INTO notes (body) VALUES (?)').run('written by the holder');
db.prepare('SELECT count(*) FROM notes').pluck().get();
process.stdout.write('ready\\n');
setInterval(() => undefined, 60_000);
`;

/** DatabaseHolder is a child process with a database open, as a running application has. */
export interface DatabaseHolder {
  child: ChildProcess;
  pid: number;
  /** Resolves once the process has exited, however it ended. */
  exited: Promise<void>;
  /** Kills it (default SIGKILL) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** startHolder starts a process holding dbPath open (after inserting a row, if asked), and waits until it has. */
export async function startHolder(dbPath: string, options: { insert?: boolean } = {}): Promise<DatabaseHolder> {
  const child = spawn(process.execPath, ['-e', HOLDER_SCRIPT, dbPath, options.insert ? 'insert' : 'read'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit').then(() => undefined);
  const [ready] = (await once(child.stdout!, 'data')) as [Buffer];
  if (!ready.toString().includes('ready')) throw new Error(`holder did not start: ${ready.toString()}`);
  return {
    child,
    pid: child.pid!,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
