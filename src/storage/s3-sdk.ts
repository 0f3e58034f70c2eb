/** S3Sdk is the AWS SDK's S3 client package, loaded on first use by loadS3Sdk. */
export type S3Sdk = typeof import('@aws-sdk/client-s3');

let loading: Promise<S3Sdk> | undefined;

/**
 * loadS3Sdk imports @aws-sdk/client-s3 once, when a store first needs it. It is most of what the
 * CLI loads (about 0.15 s and 15 MiB), which `--version`, `token …` and directory stores never use,
 * and a backup loads it on the main thread while the snapshot runs on its own.
 */
export function loadS3Sdk(): Promise<S3Sdk> {
  // A failed import (too many open files, say) is not remembered: the next call tries again.
  loading ??= import('@aws-sdk/client-s3').catch((error: unknown) => {
    loading = undefined;
    throw error;
  });
  return loading;
}
