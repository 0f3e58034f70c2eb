import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** findPackageRoot is the directory holding snapkeep's package.json, from source or from dist/. */
function packageJsonPath(): string {
  for (const relative of ['../package.json', '../../package.json']) {
    const path = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error('package.json not found beside snapkeep');
}

/** VERSION is snapkeep's version from package.json. */
export const VERSION: string = (JSON.parse(readFileSync(packageJsonPath(), 'utf8')) as { version: string }).version;
