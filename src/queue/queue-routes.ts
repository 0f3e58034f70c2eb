import type { Config, SourceConfig } from '../config/config.js';
import { findSource } from '../config/source-config.js';
import { QUEUE_NAMES, type QueueName } from './job-types.js';

/** The job types that belong to a source and so follow it to its host; notifications stay in one queue. */
export const ROUTED_QUEUES = ['backup', 'restore', 'prune', 'apply', 'verify'] as const satisfies readonly QueueName[];
export type RoutedQueue = (typeof ROUTED_QUEUES)[number];

/**
 * routedQueueName is the BullMQ queue a source's jobs of one type go to: `backup` for a source any
 * worker may serve, `backup@app-1` for one pinned to the worker SNAPKEEP_HOST=app-1. Only that
 * worker consumes its queue, so a job never runs on a host that lacks the files, and waits there,
 * visibly, while the host is down.
 */
export function routedQueueName(type: RoutedQueue, host: string | undefined): string {
  return host === undefined ? type : `${type}@${host}`;
}

/** QueueRoute is what a queue name says: the job type, and the host it is pinned to (if any). */
export interface QueueRoute {
  type: QueueName;
  host: string | undefined;
}

/** parseQueueName reads a queue name back; undefined for a name snapkeep never makes. */
export function parseQueueName(name: string): QueueRoute | undefined {
  const at = name.indexOf('@');
  const type = (at < 0 ? name : name.slice(0, at)) as QueueName;
  if (!QUEUE_NAMES.includes(type)) return undefined;
  if (at < 0) return { type, host: undefined };
  if (type === 'notify' || at === name.length - 1) return undefined;
  return { type, host: name.slice(at + 1) };
}

/** sourceQueueName is the queue of one type for the named source (no name: the primary source). */
export function sourceQueueName(config: Pick<Config, 'sources'>, type: RoutedQueue, sourceName: string | undefined): { name: string; source: SourceConfig } {
  const source = findSource(config, sourceName);
  return { name: routedQueueName(type, source.host), source };
}

/** pinnedHosts are the hosts sources are pinned to, each giving a set of queues. */
export function pinnedHosts(sources: readonly SourceConfig[]): string[] {
  return [...new Set(sources.flatMap((s) => (s.host === undefined ? [] : [s.host])))].sort();
}
