/**
 * One round of the fleet benchmark: a fresh Redis, one `snapkeep api`, and the hosts' `snapkeep
 * worker` processes started at once; the round is over when GET /api/sources shows a backup for
 * every source. Then, with the fleet idle, GET /api/sources latency, memory and the jobs' times.
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { freePort, startRedis } from '../../test/helpers/redis-server.js';
import {
  cpuSeconds, finishedJobs, getLoop, getUntil, memoryBytes, redisFacts, timedGet, waitUntilDrained,
  type JobTimes, type LatencySample, type RedisFacts,
} from './fleet-probes.js';
import { createToken, logProblems, sourceName, startService, tail, waitForApi, writeSourcesFile, type FleetShape, type Service } from './fleet-services.js';
import { measureSourcesRead, type ReadBreakdown } from './fleet-breakdown.js';
import { sleep, type S3Child } from './processes.js';

const QUEUE_PREFIX = 'fleet';

export interface FleetSetup {
  workDir: string;
  databases: readonly string[];
  hosts: readonly string[];
  masterKey: string;
  /** The S3 server, when the store is S3 (else a local directory per round). */
  s3?: { child: S3Child; client: S3Client };
  log(line: string): void;
}

export interface RoundOptions {
  shape: FleetShape;
  concurrency: number;
  label: string;
  /** GET /api/sources loops kept busy during the round (0: only the paced poll). */
  busyConnections: number;
  pollMs: number;
  idleRequests: number;
  idleConnections: number;
  breakdown: boolean;
  timeoutMs: number;
  /** `--cpu-prof` every service into this directory (one subdirectory per round). */
  profileDir?: string;
}

export interface RoundResult {
  options: Omit<RoundOptions, 'timeoutMs' | 'profileDir'>;
  load1: [number, number];
  /** From spawning the workers (ms): each worker's presence in Redis, the first backup's start, the last source's recorded backup. */
  workersUpMs: number[];
  firstStartMs: number;
  lastBackupMs: number;
  /** When the poll saw every source with a backup, and when the prunes that follow were done. */
  polledDoneMs: number;
  drainedMs: number;
  backups: JobTimes[];
  prunes: JobTimes[];
  objects: number;
  pollSamples: LatencySample[];
  busySamples: LatencySample[];
  idle: {
    sequential: LatencySample[]; concurrent: LatencySample[]; concurrentWallMs: number; notFound: LatencySample[]; bodyBytes: number;
    /** The API process's CPU per request (ms) in each idle loop. */
    apiCpuMs: { sequential: number; concurrent: number; notFound: number };
  };
  breakdown?: ReadBreakdown;
  /** CPU seconds in the round (spawn → last backup) and, for the workers, after it until the prunes drained. */
  cpu: { workersAtUp: number[]; workers: number[]; workersAfter: number[]; api: number; redis: number };
  workerMemory: Array<{ rss: number; peak: number }>;
  /** The API's memory before the round (100 sources declared, one request answered) and after everything. */
  apiMemoryBefore: { rss: number; peak: number };
  apiMemory: { rss: number; peak: number };
  redis: RedisFacts;
  problems: Map<string, number>;
}

/** runRound runs one round and tears it all down; the caller's directories outlive it only on failure. */
export async function runRound(setup: FleetSetup, options: RoundOptions): Promise<RoundResult> {
  const dir = join(setup.workDir, options.label);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const redisServer = await startRedis();
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
  const services: Service[] = [];
  const s3Prefix = `${options.label}/`;
  try {
    const configFile = join(dir, 'sources.yaml');
    writeSourcesFile(configFile, options.shape, setup.databases, setup.hosts);
    const storeDir = join(dir, 'store');
    const store: Record<string, string> = setup.s3
      ? { BACKUP_S3_ENDPOINT: setup.s3.child.endpoint, BACKUP_S3_BUCKET: setup.s3.child.bucket, BACKUP_S3_ACCESS_KEY: 'S3RVER', BACKUP_S3_SECRET_KEY: 'S3RVER', BACKUP_S3_PREFIX: s3Prefix }
      : { BACKUP_LOCAL_DIR: storeDir };
    const env = (stateDir: string, extra: Record<string, string> = {}): Record<string, string> => ({
      PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root',
      REDIS_URL: redisServer.url, MASTER_KEY: setup.masterKey, SNAPKEEP_CONFIG: configFile, QUEUE_PREFIX,
      BACKUP_CONCURRENCY: String(options.concurrency), STATE_DIR: stateDir, LOG_LEVEL: 'warn', ...store, ...extra,
    });
    const port = await freePort();
    const apiEnv = env(join(dir, 'state-api'), { PORT: String(port) });
    const token = await createToken(apiEnv, dir);
    const nodeArgs = (name: string): string[] => (options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${join(options.profileDir, options.label)}`, `--cpu-prof-name=${name}.cpuprofile`] : []);
    const api = startService('api', 'api', apiEnv, dir, join(dir, 'api.log'), nodeArgs('api'));
    services.push(api);
    const baseUrl = `http://127.0.0.1:${port}`;
    const url = `${baseUrl}/api/sources`;
    await waitForApi(api, baseUrl);
    const first = await timedGet(url, token);
    if (first.status !== 200 || (JSON.parse(first.body) as { sources: unknown[] }).sources.length !== setup.databases.length) {
      throw new Error(`GET /api/sources answered ${first.status}: ${first.body.slice(0, 500)}`);
    }
    const apiMemoryBefore = memoryBytes(api.pid);
    const apiCpu0 = cpuSeconds(api.pid);
    const redisCpu0 = (await redisFacts(redis)).cpuSeconds;
    const load0 = loadavg()[0]!;

    // The round: every worker spawned at once; t0 is the spawn.
    const t0 = performance.now();
    const t0Wall = Date.now();
    const workers = setup.hosts.map((host) => startService(host, 'worker', env(join(dir, `state-${host}`), { SNAPKEEP_HOST: host }), dir, join(dir, `${host}.log`), nodeArgs(host)));
    services.push(...workers);
    const busy = options.busyConnections > 0 ? getUntil(url, token, options.busyConnections) : undefined;
    const workersUpMs: number[] = [];
    const workersAtUp: number[] = workers.map(() => Number.NaN);
    // A worker is up once its presence (signed, host in it) is in Redis: its queues' workers are running then.
    const watchPresence = (async () => {
      const seen = new Set<string>();
      while (seen.size < workers.length && performance.now() - t0 < options.timeoutMs) {
        for (const member of await redis.zrange(`${QUEUE_PREFIX}:fleet-workers`, '0', '-1')) {
          const host = (JSON.parse(Buffer.from(member.slice(0, member.lastIndexOf('.')), 'base64url').toString()) as { host: string }).host;
          if (seen.has(host)) continue;
          seen.add(host);
          workersUpMs.push(performance.now() - t0);
          const i = setup.hosts.indexOf(host);
          if (i >= 0) workersAtUp[i] = cpuSeconds(workers[i]!.pid);
        }
        await sleep(10);
      }
    })();
    const pollSamples: LatencySample[] = [];
    let lastBackupWall = 0;
    for (;;) {
      const exited = workers.find((w) => w.child.exitCode !== null);
      if (exited) throw new Error(`worker ${exited.name} exited with ${exited.child.exitCode}:\n${tail(exited.logFile)}`);
      if (performance.now() - t0 > options.timeoutMs) throw new Error(`no backup of every source after ${options.timeoutMs} ms`);
      const sample = await timedGet(url, token);
      const { body, ...kept } = sample;
      pollSamples.push(kept);
      if (sample.status === 200) {
        const stamps = (JSON.parse(body) as { sources: Array<{ lastBackupAt: string | null }> }).sources.map((s) => s.lastBackupAt);
        if (stamps.every((s) => s !== null)) {
          lastBackupWall = Math.max(...stamps.map((s) => Date.parse(s!)));
          break;
        }
      }
      await sleep(Math.max(0, options.pollMs - (performance.now() - sample.at)));
    }
    const polledDoneMs = performance.now() - t0;
    const busySamples = busy ? await busy.stop() : [];
    await watchPresence;
    const cpuAtDone = { workers: workers.map((w) => cpuSeconds(w.pid)), api: cpuSeconds(api.pid) - apiCpu0, redis: (await redisFacts(redis)).cpuSeconds - redisCpu0 };

    // After the round: the prunes each scheduled backup chains, then the fleet is idle.
    const backupQueues = ['backup', ...(options.shape === 'pinned' ? setup.hosts.map((h) => `backup@${h}`) : [])];
    const pruneQueues = backupQueues.map((q) => q.replace('backup', 'prune'));
    const running = ['active', 'waiting', 'prioritized'] as const;
    const watched = [...backupQueues.map((name) => ({ name, states: [...running] })), ...pruneQueues.map((name) => ({ name, states: [...running, 'delayed' as const] }))];
    if (!(await waitUntilDrained(redis, QUEUE_PREFIX, watched, 120_000))) throw new Error('the queues did not drain in 2 min');
    const drainedMs = performance.now() - t0;
    const workersAfter = workers.map((w, i) => cpuSeconds(w.pid) - cpuAtDone.workers[i]!);
    const load1 = loadavg()[0]!;
    const backups = await finishedJobs(redis, QUEUE_PREFIX, backupQueues);
    const prunes = await finishedJobs(redis, QUEUE_PREFIX, pruneQueues);
    const objects = await countObjects(setup, storeDir, s3Prefix, setup.databases.length);
    await sleep(500);

    const apiCpuMs = async <T extends { samples: LatencySample[] }>(loop: () => Promise<T>): Promise<[T, number]> => {
      const before = cpuSeconds(api.pid);
      const result = await loop();
      return [result, ((cpuSeconds(api.pid) - before) * 1000) / result.samples.length];
    };
    const [sequential, sequentialCpu] = await apiCpuMs(() => getLoop(url, token, options.idleRequests, 1));
    const [concurrent, concurrentCpu] = await apiCpuMs(() => getLoop(url, token, options.idleRequests * 2, options.idleConnections));
    const [notFound, notFoundCpu] = await apiCpuMs(() => getLoop(`${baseUrl}/api/sources/no-such-source/backups`, token, options.idleRequests, 1));
    const bodyBytes = Buffer.byteLength((await timedGet(url, token)).body);
    const breakdown = options.breakdown ? await measureSourcesRead(redis, QUEUE_PREFIX, setup.masterKey, options.idleRequests) : undefined;

    const problems = new Map<string, number>();
    for (const s of services) for (const [k, n] of logProblems(s.logFile)) problems.set(`${s.name} ${k}`, n);
    return {
      options: { shape: options.shape, concurrency: options.concurrency, label: options.label, busyConnections: options.busyConnections, pollMs: options.pollMs, idleRequests: options.idleRequests, idleConnections: options.idleConnections, breakdown: options.breakdown },
      load1: [load0, load1],
      workersUpMs,
      firstStartMs: Math.min(...backups.map((j) => j.startedAt)) - t0Wall,
      lastBackupMs: lastBackupWall - t0Wall,
      polledDoneMs, drainedMs, backups, prunes, objects, pollSamples, busySamples,
      idle: {
        sequential: sequential.samples, concurrent: concurrent.samples, concurrentWallMs: concurrent.wallMs, notFound: notFound.samples, bodyBytes,
        apiCpuMs: { sequential: sequentialCpu, concurrent: concurrentCpu, notFound: notFoundCpu },
      },
      ...(breakdown ? { breakdown } : {}),
      cpu: { workersAtUp, workers: cpuAtDone.workers, workersAfter, api: cpuAtDone.api, redis: cpuAtDone.redis },
      workerMemory: workers.map((w) => memoryBytes(w.pid)),
      apiMemoryBefore, apiMemory: memoryBytes(api.pid),
      redis: await redisFacts(redis),
      problems,
    };
  } catch (error) {
    setup.log(`round ${options.label} failed; its logs stay in ${dir}`);
    throw error;
  } finally {
    await Promise.all(services.map((s) => s.stop()));
    redis.disconnect();
    await redisServer.close();
    if (setup.s3) await deletePrefix(setup.s3, s3Prefix).catch(() => undefined);
  }
}

/** countObjects counts backups in the store (not the local store's hidden sidecars), checking one per source. */
async function countObjects(setup: FleetSetup, storeDir: string, s3Prefix: string, sources: number): Promise<number> {
  let total = 0;
  for (let i = 0; i < sources; i++) {
    const name = sourceName(i);
    if (setup.s3) {
      const listed = await setup.s3.client.send(new ListObjectsV2Command({ Bucket: setup.s3.child.bucket, Prefix: `${s3Prefix}${name}/` }));
      total += (listed.Contents ?? []).filter((o) => /\.crbu$/.test(o.Key ?? '')).length;
    } else {
      total += readdirSync(join(storeDir, name)).filter((f) => !f.startsWith('.')).length;
    }
  }
  return total;
}

async function deletePrefix(s3: NonNullable<FleetSetup['s3']>, prefix: string): Promise<void> {
  const { DeleteObjectsCommand } = await import('@aws-sdk/client-s3');
  for (;;) {
    const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.child.bucket, Prefix: prefix }));
    const keys = (listed.Contents ?? []).map((o) => ({ Key: o.Key! }));
    if (keys.length === 0) return;
    await s3.client.send(new DeleteObjectsCommand({ Bucket: s3.child.bucket, Delete: { Objects: keys } }));
  }
}
