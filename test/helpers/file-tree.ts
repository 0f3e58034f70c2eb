import { createHash } from 'node:crypto';
import { chmodSync, closeSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join, relative } from 'node:path';

/** TreeEntry is what a test compares of one path: type, permission bits, content hash or link target. */
export interface TreeEntry {
  type: 'file' | 'directory' | 'symlink';
  mode: number;
  sha256?: string;
  size?: number;
  target?: string;
}

/** describeTree maps every path under root (relative, root itself excluded) to what it is; links are not followed, sockets and devices left out. */
export function describeTree(root: string): Record<string, TreeEntry> {
  const out: Record<string, TreeEntry> = {};
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const info = lstatSync(path);
      const rel = relative(root, path);
      if (info.isSymbolicLink()) out[rel] = { type: 'symlink', mode: 0, target: readlinkSync(path) };
      else if (info.isDirectory()) {
        out[rel] = { type: 'directory', mode: info.mode & 0o7777 };
        walk(path);
      } else if (info.isFile()) {
        out[rel] = { type: 'file', mode: info.mode & 0o7777, size: info.size, sha256: createHash('sha256').update(readFileSync(path)).digest('hex') };
      }
    }
  };
  walk(root);
  return out;
}

/**
 * makeSampleTree builds an application's config and data directories: nested directories, a
 * symlink, a 0600 secret in a keys directory, a 0640 config file, a log to exclude, and a large
 * file of `bigBytes` random-ish bytes written in 1 MiB pieces.
 */
export function makeSampleTree(root: string, bigBytes: number): void {
  mkdirSync(join(root, 'config', 'nested', 'deeper'), { recursive: true });
  mkdirSync(join(root, 'keys'), { recursive: true });
  mkdirSync(join(root, 'data', 'uploads'), { recursive: true });
  writeFileSync(join(root, 'config', 'app.yml'), 'listen: 8080\nname: demo\n');
  chmodSync(join(root, 'config', 'app.yml'), 0o640);
  writeFileSync(join(root, 'config', 'nested', 'deeper', 'feature.toml'), 'enabled = true\n');
  writeFileSync(join(root, 'config', 'empty.conf'), '');
  writeFileSync(join(root, 'keys', 'signing.pem'), '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----\n');
  chmodSync(join(root, 'keys', 'signing.pem'), 0o600);
  chmodSync(join(root, 'keys'), 0o700);
  writeFileSync(join(root, 'data', 'server.log'), 'GET / 200\n'.repeat(100));
  writeFileSync(join(root, 'data', 'uploads', 'run.sh'), '#!/bin/sh\necho hi\n');
  chmodSync(join(root, 'data', 'uploads', 'run.sh'), 0o755);
  symlinkSync('../config/app.yml', join(root, 'data', 'current-config'));
  symlinkSync('/nonexistent/target', join(root, 'data', 'dangling'));
  const fd = openSync(join(root, 'data', 'uploads', 'big.bin'), 'w', 0o644);
  try {
    const piece = Buffer.alloc(1024 * 1024);
    for (let written = 0, n = 0; written < bigBytes; n++) {
      piece.fill(n % 251);
      piece.writeUInt32BE(n, 0);
      const size = Math.min(piece.length, bigBytes - written);
      writeSync(fd, piece, 0, size);
      written += size;
    }
  } finally {
    closeSync(fd);
  }
}

/** withoutLogs drops `*.log` entries, as BACKUP_EXCLUDE=*.log does. */
export function withoutLogs(tree: Record<string, TreeEntry>): Record<string, TreeEntry> {
  return Object.fromEntries(Object.entries(tree).filter(([path]) => !path.endsWith('.log')));
}
