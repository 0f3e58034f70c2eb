import { readFile } from 'node:fs/promises';
import { identityToRecipient } from 'age-encryption';
import { SnapkeepError } from '../errors.js';

/**
 * readIdentityFile reads an age identity file as `age-keygen` writes it: one
 * `AGE-SECRET-KEY-1…` (or `AGE-SECRET-KEY-PQ-1…`) per line, `#` comments and blank lines ignored.
 * Errors name the file and the line number, never a key.
 */
export async function readIdentityFile(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new SnapkeepError('invalid_config', `cannot read the identity file ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, { cause: error });
  }
  const identities: string[] = [];
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    try {
      if (!line.startsWith('AGE-SECRET-KEY-')) throw new Error('not an identity');
      await identityToRecipient(line);
    } catch {
      throw new SnapkeepError('invalid_config', `${path}, line ${index + 1}: not an age identity (AGE-SECRET-KEY-1…)`);
    }
    identities.push(line);
  }
  if (identities.length === 0) throw new SnapkeepError('invalid_config', `${path} holds no age identity (AGE-SECRET-KEY-1…)`);
  return identities;
}
