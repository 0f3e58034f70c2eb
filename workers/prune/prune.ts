import { listStoredBackups } from '../../src/backups/list-backups.js';
import { SnapkeepError } from '../../src/errors.js';
import type { PruneJobData, PruneResult } from '../../src/queue/job-types.js';
import { planRetention } from '../../src/retention/plan-retention.js';
import type { JobContext } from '../runtime/job-context.js';
import { flaggedAnomalies } from '../guardrail/flagged-anomalies.js';
import { unrecordedBackups } from './unrecorded-backups.js';

/**
 * prune applies the retention policy as of `data.at` (default now): it lists the whole store (a
 * failed listing throws before anything is deleted), plans, and deletes what the plan deletes.
 * Only objects named exactly like backups are ever considered.
 */
export async function prune(data: PruneJobData, ctx: JobContext): Promise<PruneResult> {
  const now = data.at ? new Date(data.at) : new Date();
  if (Number.isNaN(now.getTime())) throw new SnapkeepError('invalid_config', `not a time: ${data.at}`);
  ctx.reportProgress({ phase: 'prune', percent: 0, bytesDone: 0, bytesTotal: 0 });
  // The listing warns about future-dated backups (the plan keeps them as `future`) and unreadable ones.
  const backups = await listStoredBackups(ctx.store, { logger: ctx.logger });
  // A backup whose metadata cannot be read is never deleted: nobody can tell what it is, and
  // one damaged file must cost nothing else. It stays out of the plan, so it is no rule's newest.
  const unreadable = new Set(backups.filter((b) => b.error !== undefined).map((b) => b.id));
  // Once this installation records what its backups hold, a backup without a record is kept out
  // of the plan (and kept): a copy planted under a newer id must not displace the genuine ones. An
  // installation with no recorded backup at all (older backups only) prunes them as before.
  const unrecorded = await unrecordedBackups(ctx, backups);
  const anyRecorded = backups.some((b) => b.kind === 'database' && b.error === undefined && !unrecorded.has(b.id));
  const unverified = anyRecorded ? unrecorded : new Set<string>();
  // One id normally has one object; should two kinds ever share an id, both go together. Store
  // calls take names relative to the prefix (`name`), not the full key listings show.
  const namesById = new Map<string, string[]>();
  for (const b of backups) namesById.set(b.id, [...(namesById.get(b.id) ?? []), b.name]);
  const plan = planRetention(
    backups.filter((b) => !unreadable.has(b.id) && !unverified.has(b.id)).map((b) => ({ id: b.id, createdAt: new Date(b.createdAt) })),
    ctx.config.retention,
    now,
    { ...(data.force ? { force: true } : {}), anomalies: await flaggedAnomalies(ctx) },
  );
  // A restore asked for a backup: it stays until that restore is over, whatever the policy says.
  // One enqueued after this look may still find its backup gone, but then it was due for deletion.
  const restoring = plan.delete.length > 0 ? ((await ctx.backupsBeingRestored?.()) ?? new Set<string>()) : new Set<string>();
  const spared = [
    ...plan.delete.filter((id) => restoring.has(id)).map((id) => [id, 'restoring'] as const),
    ...[...unreadable].map((id) => [id, 'unreadable metadata'] as const),
    ...[...unverified].map((id) => [id, 'unverified origin'] as const),
  ];
  const deleted = plan.delete.filter((id) => !restoring.has(id));
  if (!data.dryRun && deleted.length > 0) {
    await ctx.store.delete(deleted.flatMap((id) => namesById.get(id) ?? []));
  }
  ctx.reportProgress({ phase: 'prune', percent: 100, bytesDone: 0, bytesTotal: 0 });
  const result: PruneResult = {
    // Newest first, as the plan lists them: ids begin with their UTC time, so they sort by it.
    kept: [...plan.keep.map((k) => k.id), ...spared.map(([id]) => id)].sort().reverse(),
    deleted,
    dryRun: data.dryRun,
    reasons: Object.fromEntries([...plan.keep.map((k) => [k.id, k.reasons]), ...spared.map(([id, reason]) => [id, [reason]])]),
    ...(plan.skippedReason ? { skippedReason: plan.skippedReason } : {}),
  };
  ctx.logger.info(data.dryRun ? 'prune planned (dry run)' : 'prune completed', {
    kept: result.kept.length, deleted: result.deleted.length, at: now.toISOString(), skippedReason: plan.skippedReason,
  });
  return result;
}
