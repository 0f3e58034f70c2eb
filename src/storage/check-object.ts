import { SnapkeepError } from '../errors.js';

// Names become file names in a directory store and keys under a prefix in S3: one flat component,
// never hidden (a directory store keeps its temporary files and sidecars as dotfiles), short enough
// that `.{name}.meta.json` still fits the 255-byte limit of common filesystems.
const MAX_NAME_BYTES = 200;
// S3 returns user metadata keys lowercased and carries values as HTTP headers (ASCII, trimmed): the
// same rules for every store keep a round trip exact whatever the backend.
const METADATA_KEY = /^[a-z0-9][a-z0-9-]*$/;
const METADATA_VALUE = /^(?:[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?)?$/;
// S3 limits user metadata to 2 KB, counted as the bytes of every key and value.
const MAX_METADATA_BYTES = 2048;

/** checkObjectName throws unless a name is one flat, visible file name that every store can hold. */
export function checkObjectName(name: string): void {
  const valid = name.length > 0
    && Buffer.byteLength(name) <= MAX_NAME_BYTES
    && !name.startsWith('.')
    && !/[/\\\x00-\x1f\x7f]/.test(name);
  if (!valid) throw new SnapkeepError('internal', `invalid object name: ${JSON.stringify(name)}`);
}

/** checkMetadata throws unless metadata survives every store unchanged (lowercase keys, ASCII values, 2 KB). */
export function checkMetadata(metadata: Record<string, string> | undefined): void {
  if (!metadata) return;
  let bytes = 0;
  for (const [key, value] of Object.entries(metadata)) {
    if (!METADATA_KEY.test(key)) throw new SnapkeepError('internal', `invalid metadata key: ${JSON.stringify(key)}`);
    if (!METADATA_VALUE.test(value)) throw new SnapkeepError('internal', `invalid metadata value for ${key}`);
    bytes += key.length + value.length;
  }
  if (bytes > MAX_METADATA_BYTES) throw new SnapkeepError('internal', `metadata is ${bytes} bytes, more than ${MAX_METADATA_BYTES}`);
}
