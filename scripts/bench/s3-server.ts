/**
 * s3-server runs the tests' S3 server (s3rver with V4 signature checks, test/helpers/s3-server.ts)
 * as its own process for the benchmark, so its CPU time and memory are not charged to the process
 * being measured. It keeps its objects under $TMPDIR, prints one JSON line `{endpoint, bucket}` once
 * it listens, and removes its directory on SIGTERM or when its parent closes stdin.
 *
 * Run: node --import tsx scripts/bench/s3-server.ts [bucket]
 */
import { startS3Server } from '../../test/helpers/s3-server.js';

const server = await startS3Server({ bucket: process.argv[2] ?? 'snapkeep-bench' });
// The helper remembers every request's headers for test assertions: a long benchmark does not need them.
server.requests.push = () => 0;
process.stdout.write(`${JSON.stringify({ endpoint: server.endpoint, bucket: server.bucket, directory: server.directory })}\n`);

let closing = false;
const close = async (): Promise<void> => {
  if (closing) return;
  closing = true;
  await server.close().catch(() => undefined);
  process.exit(0);
};
process.on('SIGTERM', () => void close());
process.on('SIGINT', () => void close());
// The parent holds our stdin open: when it dies without stopping us, stdin ends and we stop too.
process.stdin.on('end', () => void close());
process.stdin.resume();
