import type { BackupVerification, VerifyResult } from '../../src/queue/job-types.js';

const out = (line = ''): void => { process.stdout.write(`${line}\n`); };

/** printVerifyResult tells, for each backup drilled, which checks passed, or which one failed and why. */
export function printVerifyResult(result: VerifyResult): void {
  if (result.verifications.length === 0) out(`nothing verified: ${result.skippedReason ?? 'no backup'}`);
  for (const v of result.verifications) printVerification(v);
}

function printVerification(v: BackupVerification): void {
  if (v.verified) {
    const passed = v.checks.filter((c) => c.outcome === 'passed').map((c) => c.check);
    out(`backup ${v.backupId} verified (${(v.durationMs / 1000).toFixed(1)} s): ${passed.join(', ')} passed`);
    for (const c of v.checks.filter((x) => x.outcome === 'skipped')) out(`  ${c.check} skipped: ${c.detail ?? ''}`);
    return;
  }
  out(`backup ${v.backupId} NOT verified: the ${v.failedCheck} check failed: ${v.reason}`);
  const passed = v.checks.filter((c) => c.outcome === 'passed').map((c) => c.check);
  if (passed.length > 0) out(`  passed before it: ${passed.join(', ')}`);
}

/** NotifyAnswer is one target's answer to `snapkeep notify test`. */
export interface NotifyAnswer {
  target: string;
  /** The target's scheme, host and port: never its credentials, path or query. */
  url: string;
  ok: boolean;
  status?: number;
  error?: string;
}

/** printNotifyAnswers prints one line per target. */
export function printNotifyAnswers(answers: NotifyAnswer[]): void {
  for (const a of answers) out(`${a.target} (${a.url}): ${a.ok ? `answered ${a.status}` : `FAILED: ${a.error}`}`);
}
