import type { Readable } from 'node:stream';

/** StoredObject is what a store knows of one object: its name under the prefix, size, time and metadata. */
export interface StoredObject {
  name: string;
  size: number;
  lastModified: Date;
}

/** PutOptions tune one upload. */
export interface PutOptions {
  /**
   * Small string metadata kept with the object (S3 user metadata, a sidecar for directories): keys
   * lowercase `[a-z0-9-]`, values printable ASCII without surrounding spaces, 2 KB in all, so that
   * every store gives back exactly what it was given.
   */
  metadata?: Record<string, string>;
  /** Called with the number of body bytes stored so far (S3: after each part). */
  onProgress?: (bytesSent: number) => void;
  /**
   * The body's size when the caller knows it (a snapshot file's), a hint only: S3 raises its part
   * size with it so that a large body fits S3's 10,000 parts, and keeps small parts (little memory)
   * for the rest.
   */
  expectedSize?: number;
  signal?: AbortSignal;
}

/** FetchedObject is an object's body as a stream, with its size and metadata. */
export interface FetchedObject {
  body: Readable;
  size: number;
  metadata: Record<string, string>;
}

/**
 * BackupStore moves bytes and nothing else (Litestream's ReplicaClient): key layout, retention and
 * restore checks live above it. Names are relative to the store's prefix. Every implementation turns
 * its own "missing" into BackupNotFoundError and makes an object visible only once it is complete.
 */
export interface BackupStore {
  /** A short description for logs and health, never carrying credentials. */
  readonly description: string;
  /**
   * put uploads a stream of unknown length; on failure no object (and no open multipart upload) is
   * left, and an unfinished body is destroyed with the error put rejects with, so a producer piping
   * into it stops and learns why. A name is one flat, visible file name (no `/`, no leading `.`).
   */
  put(name: string, body: Readable, options?: PutOptions): Promise<StoredObject>;
  /** get streams an object's body. */
  get(name: string, options?: { signal?: AbortSignal }): Promise<FetchedObject>;
  /** head reads an object's size and metadata without its body. */
  head(name: string): Promise<StoredObject & { metadata: Record<string, string> }>;
  /** list returns every object under the prefix, or throws: never a partial listing. */
  list(): Promise<StoredObject[]>;
  /** delete removes the named objects (in batches where the backend allows); missing ones are ignored. */
  delete(names: string[]): Promise<void>;
  /** check proves the store is reachable and the bucket or directory exists. */
  check(): Promise<void>;
  /**
   * keyOf is where an operator finds a named object with other tools: its full key in the bucket
   * (S3: the prefix and the name, for `aws s3 cp s3://{bucket}/{key}`), or its file name in the
   * directory (BACKUP_LOCAL_DIR). Listings show it as `key`; store calls still take the name.
   */
  keyOf(name: string): string;
}
