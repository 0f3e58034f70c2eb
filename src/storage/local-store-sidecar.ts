import { readFile } from 'node:fs/promises';
import { SnapkeepError } from '../errors.js';

/**
 * readSidecar reads the metadata a directory store keeps beside a backup: {} when there is none (a
 * file copied in by hand), and metadata_damaged naming the sidecar when it is not what put writes
 * (truncated, edited, planted), so one bad file is reported as itself, not as a bare JSON error.
 */
export async function readSidecar(path: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return {};
    throw error;
  }
  const metadata = parseSidecar(text);
  if (!metadata) {
    throw new SnapkeepError('metadata_damaged', `the metadata sidecar ${path} is damaged (not a JSON object of strings); remove it to use the backup without its metadata`);
  }
  return metadata;
}

/** parseSidecar is the metadata a sidecar holds, or null when it is not a JSON object of strings. */
function parseSidecar(text: string): Record<string, string> | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  return Object.values(value).every((v) => typeof v === 'string') ? (value as Record<string, string>) : null;
}
