import { spawn } from 'node:child_process';

/**
 * ageDecryptAtPrompt runs the Debian `age -d` on file, typing the passphrase at its prompt through
 * a pseudo-terminal (age reads passphrases only from a terminal), via `expect`. The passphrase
 * goes through the environment, not the script, so no quoting can break it.
 */
export function ageDecryptAtPrompt(file: string, out: string, passphrase: string): Promise<{ code: number | null; output: string }> {
  const script = [
    'set timeout 120',
    'spawn age -d -o $env(AGE_OUT) $env(AGE_FILE)',
    'expect "Enter passphrase"',
    'send -- "$env(AGE_PASSPHRASE)\\r"',
    'expect eof',
    'catch wait result',
    'exit [lindex $result 3]',
  ].join('\n');
  return new Promise((resolve, reject) => {
    const child = spawn('expect', ['-c', script], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', AGE_FILE: file, AGE_OUT: out, AGE_PASSPHRASE: passphrase },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output }));
  });
}
