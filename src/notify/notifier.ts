import { createHash, randomUUID } from 'node:crypto';
import type { JobsOptions } from 'bullmq';
import type { Config } from '../config/config.js';
import type { Logger } from '../logging/create-logger.js';
import type { NotifyJobData } from '../queue/job-types.js';
import type { Queues } from '../queue/queues.js';
import type { HealthchecksPing } from './deliver.js';
import { newNotification, type NewNotification } from './notification-event.js';
import { HEALTHCHECKS_TARGET, webhookTargets } from './notify-targets.js';

/**
 * Notifier puts notifications on the `notify` queue, one job per target, each retried with
 * backoff by a notify worker. Enqueuing is all a backup waits for (a Redis write), never a
 * receiver; and it never throws: a notification that cannot even be enqueued is logged.
 */
export interface Notifier {
  /**
   * notify sends an event to every webhook. With `dedupeKey`, the event is sent once per key
   * however many processes (or retries) ask: its job ids derive from the key.
   */
  notify(what: NewNotification, options?: { dedupeKey?: string }): Promise<void>;
  /** ping sends a healthchecks ping (when NOTIFY_HEALTHCHECKS_URL is set). */
  ping(ping: HealthchecksPing, message: string): Promise<void>;
}

/** createNotifier builds the producer side of notifications over the process's queues. */
export function createNotifier(deps: { config: Config; queues: Queues; logger: Logger }): Notifier {
  const { config, queues, logger } = deps;
  const add = async (jobId: string, data: NotifyJobData, options: JobsOptions = {}): Promise<void> => {
    const signed = queues.signer().sign({ queue: 'notify', name: 'notify', id: jobId }, data);
    await queues.notify.add('notify', signed, { ...options, jobId });
  };
  return {
    async notify(what, options = {}) {
      if (what.event === 'backup.succeeded' && !config.notify.onSuccess) return;
      const targets = webhookTargets(config.notify);
      if (targets.length === 0) return;
      const notification = newNotification(config, what);
      const base = options.dedupeKey !== undefined
        ? `notify-${createHash('sha256').update(`${what.event}|${options.dedupeKey}`).digest('hex').slice(0, 16)}`
        : `notify-${randomUUID()}`;
      try {
        for (const target of targets) await add(`${base}-${target.id}`, { target: target.id, notification });
        logger.info('notification enqueued', { event: what.event, targets: targets.length });
      } catch (error) {
        logger.warn('could not enqueue a notification', { event: what.event, error: error instanceof Error ? error.message : String(error) });
      }
    },
    async ping(ping, message) {
      if (!config.notify.healthchecksUrl) return;
      try {
        // A start ping is tried once: a late one, after the success ping, would read as a run that never ended.
        await add(`notify-${randomUUID()}-${HEALTHCHECKS_TARGET}`, { target: HEALTHCHECKS_TARGET, ping, message }, ping === 'start' ? { attempts: 1 } : {});
      } catch (error) {
        logger.warn('could not enqueue a healthchecks ping', { ping, error: error instanceof Error ? error.message : String(error) });
      }
    },
  };
}
