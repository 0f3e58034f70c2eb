import type { Redis } from 'ioredis';
import { Counter, Registry } from 'prom-client';
import type { Logger } from '../logging/create-logger.js';
import { QUEUE_NAMES } from '../queue/job-types.js';
import type { Queues } from '../queue/queues.js';

/**
 * Jobs refused before they ran (unsigned, forged, expired, invalid: issue 13), counted in one Redis
 * hash so that the API process serving /metrics reports what any worker refused. A refused job is
 * someone writing to Redis who should not: the counter is there to alert on.
 */

/** refusedJobsKey is the hash's key, under QUEUE_PREFIX like the job statistics. */
export const refusedJobsKey = (queues: Queues): string => `${queues.backup.opts.prefix ?? 'bull'}:refused-jobs`;

/** refusedJobRecorder returns the workers' onJobRefused: it adds one to `{queue}|{code}`, logging (not throwing) a failure. */
export function refusedJobRecorder(redis: Redis, key: string, logger: Logger): (queue: string, code: string) => void {
  return (queue, code) => {
    redis.hincrby(key, `${queue}|${code}`, 1).catch((err: Error) => logger.warn('could not count a refused job', { error: err.message }));
  };
}

/** refusedJobsRegistry reads the counts and renders them as `snapkeep_jobs_refused_total{queue,reason}`. */
export async function refusedJobsRegistry(redis: Redis, key: string): Promise<Registry> {
  const registry = new Registry();
  const counter = new Counter({
    name: 'snapkeep_jobs_refused_total',
    help: 'Jobs refused before they ran: unsigned or forged (unauthenticated_job) or with data the API would refuse (invalid_job). Any increase means something other than snapkeep wrote to Redis.',
    labelNames: ['queue', 'reason'],
    registers: [registry],
  });
  for (const queue of QUEUE_NAMES) for (const reason of ['unauthenticated_job', 'invalid_job']) counter.inc({ queue, reason }, 0);
  const fields = await redis.hgetall(key);
  for (const [field, value] of Object.entries(fields)) {
    const [queue = '', reason = ''] = field.split('|');
    const n = Number(value);
    // Only our own labels: the hash is in Redis, where anyone who can write may put anything.
    if ((QUEUE_NAMES as readonly string[]).includes(queue) && /^[a-z_]{1,40}$/.test(reason) && Number.isSafeInteger(n) && n > 0) counter.inc({ queue, reason }, n);
  }
  return registry;
}
