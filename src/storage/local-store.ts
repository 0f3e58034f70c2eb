import { constants } from 'node:fs';
import { access, mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { addAbortSignal, type Readable } from 'node:stream';
import type { LocalStoreConfig } from '../config/config.js';
import type { BackupStore, FetchedObject, PutOptions, StoredObject } from './backup-store.js';
import { checkMetadata, checkObjectName } from './check-object.js';
import { translateFsError } from './fs-errors.js';
import { guardBody } from './guard-body.js';
import type { StaleLogger } from '../temporaries/stale-temporaries.js';
import { readSidecar } from './local-store-sidecar.js';
import { localTemporaryPath, removeStaleLocalTemporaries } from './local-store-temporaries.js';

/** LocalStoreOptions tune a LocalBackupStore. */
export interface LocalStoreOptions {
  /** Where the store reports the stale temporary files it removed (info), or could not (warn). */
  logger?: StaleLogger;
}

/**
 * LocalBackupStore keeps backups as files directly in one directory (BACKUP_LOCAL_DIR), mode 0600.
 * Each file is written under a hidden temporary name, flushed and renamed into place, so it appears
 * only once complete. Metadata lives in a hidden sidecar `.{name}.meta.json` (the backup file stays
 * the exact bytes an operator can decrypt by hand); dotfiles are never listed. Temporary names carry
 * their writer's pid and run, so that the first put removes those of writers that died.
 */
export class LocalBackupStore implements BackupStore {
  readonly description: string;
  private readonly dir: string;
  private readonly logger: LocalStoreOptions['logger'];
  private ready: Promise<void> | undefined;
  private swept: Promise<void> | undefined;

  constructor(config: LocalStoreConfig, options: LocalStoreOptions = {}) {
    this.dir = config.dir;
    this.description = `directory "${config.dir}"`;
    this.logger = options.logger;
  }

  async put(name: string, body: Readable, options: PutOptions = {}): Promise<StoredObject> {
    const guarded = guardBody(body, options.signal);
    let temp: string | undefined;
    let sidecarWritten = false;
    try {
      checkObjectName(name);
      checkMetadata(options.metadata);
      options.signal?.throwIfAborted();
      temp = this.tempPath(name);
      await this.ensureDir();
      await this.removeStaleOnce();
      let size = 0;
      const file = await open(temp, 'wx', 0o600);
      try {
        for await (const chunk of guarded.chunks) {
          await writeAll(file, chunk);
          size += chunk.length;
          options.onProgress?.(size);
        }
        await file.sync();
      } finally {
        await file.close();
      }
      // Metadata first: once the file is renamed into place, readers must find its metadata too.
      const metadata = options.metadata ?? {};
      if (Object.keys(metadata).length > 0) {
        await this.writeAtomically(this.sidecarPath(name), JSON.stringify(metadata));
        sidecarWritten = true;
      } else {
        await rm(this.sidecarPath(name), { force: true });
      }
      await rename(temp, this.path(name));
      await this.syncDir();
      const { mtime } = await stat(this.path(name));
      return { name, size, lastModified: mtime };
    } catch (error) {
      if (temp !== undefined) await rm(temp, { force: true });
      if (sidecarWritten) await rm(this.sidecarPath(name), { force: true }).catch(() => undefined);
      const failure = guarded.error ?? translateFsError(error, { dir: this.dir });
      // Every failure, a refused name included, must release the body: a producer piping into it
      // would otherwise wait on backpressure forever.
      guarded.fail(failure);
      throw failure;
    }
  }

  async get(name: string, options: { signal?: AbortSignal } = {}): Promise<FetchedObject> {
    checkObjectName(name);
    let file: FileHandle | undefined;
    try {
      // Open first: the size and the bytes then come from the same file, even if it is replaced.
      file = await open(this.path(name), 'r');
      const info = await file.stat();
      if (!info.isFile()) throw Object.assign(new Error('not a file'), { code: 'ENOENT' });
      const metadata = await this.readMetadata(name);
      const stream = file.createReadStream({ highWaterMark: 1024 * 1024 });
      file = undefined; // the stream owns and closes it now
      return { body: options.signal ? addAbortSignal(options.signal, stream) : stream, size: info.size, metadata };
    } catch (error) {
      await file?.close();
      throw translateFsError(error, { dir: this.dir, name });
    }
  }

  async head(name: string): Promise<StoredObject & { metadata: Record<string, string> }> {
    checkObjectName(name);
    try {
      const info = await stat(this.path(name));
      if (!info.isFile()) throw Object.assign(new Error('not a file'), { code: 'ENOENT' });
      return { name, size: info.size, lastModified: info.mtime, metadata: await this.readMetadata(name) };
    } catch (error) {
      throw translateFsError(error, { dir: this.dir, name });
    }
  }

  async list(): Promise<StoredObject[]> {
    try {
      await this.ensureDir();
      const entries = await readdir(this.dir, { withFileTypes: true });
      const objects: StoredObject[] = [];
      for (const entry of entries) {
        if (!entry.isFile() || entry.name.startsWith('.')) continue;
        try {
          const info = await stat(join(this.dir, entry.name));
          objects.push({ name: entry.name, size: info.size, lastModified: info.mtime });
        } catch (error) {
          // Deleted between readdir and stat: it is simply no longer there.
          if ((error as { code?: string }).code !== 'ENOENT') throw error;
        }
      }
      return objects;
    } catch (error) {
      throw translateFsError(error, { dir: this.dir });
    }
  }

  async delete(names: string[]): Promise<void> {
    names.forEach(checkObjectName);
    try {
      for (const name of names) {
        // The file first, so that an interrupted delete never leaves a backup without its metadata.
        await rm(this.path(name), { force: true });
        await rm(this.sidecarPath(name), { force: true });
      }
    } catch (error) {
      throw translateFsError(error, { dir: this.dir });
    }
  }

  async check(): Promise<void> {
    try {
      await this.ensureDir();
      const info = await stat(this.dir);
      if (!info.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
      await access(this.dir, constants.W_OK | constants.X_OK);
    } catch (error) {
      throw translateFsError(error, { dir: this.dir });
    }
  }

  /**
   * keyOf is the file's name in the directory: the same on every host that mounts it, where an
   * absolute path would name one host's mount point.
   */
  keyOf(name: string): string {
    return name;
  }

  /** ensureDir creates the directory (0700) on first use, so the quick start needs no mkdir. */
  private async ensureDir(): Promise<void> {
    this.ready ??= mkdir(this.dir, { recursive: true, mode: 0o700 }).then(
      () => undefined,
      (error: unknown) => {
        this.ready = undefined;
        throw error;
      },
    );
    return this.ready;
  }

  private path(name: string): string {
    return join(this.dir, name);
  }

  private sidecarPath(name: string): string {
    return join(this.dir, `.${name}.meta.json`);
  }

  /** A hidden, unique name beside the target: same file system for rename, skipped by list. */
  private tempPath(name: string): string {
    return localTemporaryPath(join(this.dir, `.${name}`));
  }

  /**
   * removeStaleOnce removes, once per store before its first write, the temporary files of writers
   * that died mid-put (SIGKILL, power loss): hidden from list, they would hold disk space unseen.
   * On the first put rather than at process start because every process that writes here comes
   * through put (serve, worker, and the CLI's `backup create`, which starts no worker), while those
   * that only read (api, `backup list`) never delete in the directory. A failure is only logged: the
   * backup must not fail for it, and the next process tries again.
   */
  private removeStaleOnce(): Promise<void> {
    this.swept ??= removeStaleLocalTemporaries(this.dir, this.logger).then(() => undefined);
    return this.swept;
  }

  private readMetadata(name: string): Promise<Record<string, string>> {
    return readSidecar(this.sidecarPath(name));
  }

  /** writeAtomically writes a small file under a temporary name, flushes it and renames it into place. */
  private async writeAtomically(target: string, text: string): Promise<void> {
    const temp = localTemporaryPath(target);
    try {
      const file = await open(temp, 'wx', 0o600);
      try {
        await file.writeFile(text);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  /** syncDir flushes the directory entry, so a rename survives a power cut. */
  private async syncDir(): Promise<void> {
    const dir = await open(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}

/** writeAll writes a whole chunk: a single write() may write less than asked. */
async function writeAll(file: FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await file.write(chunk, offset, chunk.length - offset);
    offset += bytesWritten;
  }
}
