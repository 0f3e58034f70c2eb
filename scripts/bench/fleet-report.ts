/**
 * The fleet benchmark's tables (markdown): the round, where its time goes, GET /api/sources latency,
 * memory, and what the services logged at warn or above.
 */
import type { LatencySample } from './fleet-probes.js';
import { maxInFlight, median, percentile } from './fleet-probes.js';
import type { RoundResult } from './fleet-round.js';

const MiB = 2 ** 20;
const s = (ms: number): string => (ms / 1000).toFixed(2);
const ms = (x: number): string => (Number.isNaN(x) ? '–' : x < 10 ? x.toFixed(2) : x.toFixed(1));
const mib = (bytes: number): string => (bytes / MiB).toFixed(0);
const range = (xs: number[], f: (x: number) => string): string => (xs.length === 0 ? '–' : `${f(Math.min(...xs))}–${f(Math.max(...xs))}`);

/** groupKey: rounds of the same fleet shape, concurrency and API load are summarised together. */
const groupKey = (r: RoundResult): string => `${r.options.shape}|${r.options.concurrency}|${r.options.busyConnections}`;

function groups(results: readonly RoundResult[]): RoundResult[][] {
  const map = new Map<string, RoundResult[]>();
  for (const r of results) map.set(groupKey(r), [...(map.get(groupKey(r)) ?? []), r]);
  return [...map.values()];
}

const fleetLabel = (r: RoundResult, hosts: number, sources: number): string => {
  const shape = r.options.shape === 'pinned' ? `${sources / hosts} pinned to each of ${hosts} hosts` : `all ${sources} unpinned (one shared queue), ${hosts} workers`;
  return r.options.busyConnections > 0 ? `${shape}, ${r.options.busyConnections} GET /api/sources loops busy` : shape;
};

function latencyRow(label: string, samples: readonly LatencySample[], wallMs?: number, apiCpuMs?: number[]): string {
  const x = samples.map((v) => v.ms);
  const non200 = samples.filter((v) => v.status !== 200).length;
  const rps = wallMs ? (samples.length / (wallMs / 1000)).toFixed(0) : '–';
  const cpu = apiCpuMs && apiCpuMs.length > 0 ? ms(median(apiCpuMs)) : '–';
  return `| ${label} | ${samples.length} | ${ms(percentile(x, 50))} | ${ms(percentile(x, 95))} | ${ms(percentile(x, 99))} | ${ms(Math.max(...x))} | ${rps} | ${cpu} | ${non200} |`;
}

export function fleetReport(results: readonly RoundResult[], meta: { hosts: number; sources: number; command: string; machine: string[] }): string {
  const L: string[] = [];
  const all = groups(results);
  L.push(`Command: \`${meta.command}\``, '', ...meta.machine, '');
  L.push('| fleet | BACKUP_CONCURRENCY | rounds | spawn → every source backed up (s), median | every round (s) | spawn → 4 workers up (s) | spawn → first backup starts (s) | first start → last backup (s) | backups / s | objects per source | 1-min load (start–end) |');
  L.push('| --- | ---: | ---: | ---: | --- | --- | --- | --- | ---: | --- | --- |');
  for (const g of all) {
    const r0 = g[0]!;
    const rounds = g.map((r) => r.lastBackupMs);
    const spans = g.map((r) => r.lastBackupMs - r.firstStartMs);
    const perSource = g.map((r) => r.objects / meta.sources);
    L.push(`| ${fleetLabel(r0, meta.hosts, meta.sources)} | ${r0.options.concurrency} | ${g.length} | **${s(median(rounds))}** | ${rounds.map(s).join(', ')} | ${range(g.map((r) => Math.max(...r.workersUpMs)), s)} | ${range(g.map((r) => r.firstStartMs), s)} | ${range(spans, s)} | ${(meta.sources / (median(spans) / 1000)).toFixed(0)} | ${range(perSource, (x) => x.toFixed(2))} | ${g.map((r) => `${r.load1[0].toFixed(1)}–${r.load1[1].toFixed(1)}`).join(', ')} |`);
  }
  L.push('', 'Where the round\'s time goes (all rounds of a row pooled; a job\'s times are BullMQ\'s: due = added + delay, started = processedOn, finished = finishedOn):', '');
  L.push('| fleet | BACKUP_CONCURRENCY | backup job, started → finished p50 / p90 / max (ms) | backup\'s own durationMs p50 | due → started p50 / p90 (s) | most backups at once | CPU s in the round: 4 workers / API / Redis | worker start-up CPU, each (s) | worker CPU from up to the last backup, per backup (ms) | prunes, count, p50 (ms) |');
  L.push('| --- | ---: | --- | ---: | --- | --- | --- | --- | ---: | --- |');
  for (const g of all) {
    const r0 = g[0]!;
    const jobs = g.flatMap((r) => r.backups.filter((j) => j.state === 'completed'));
    const run = jobs.map((j) => j.finishedAt - j.startedAt);
    const wait = jobs.map((j) => j.startedAt - j.dueAt);
    const own = jobs.map((j) => j.durationMs).filter((x): x is number => x !== undefined);
    const workerCpu = g.map((r) => r.cpu.workers.reduce((a, b) => a + b, 0));
    const startup = g.flatMap((r) => r.cpu.workersAtUp);
    const perBackup = g.map((r) => (r.cpu.workers.reduce((a, b, i) => a + b - r.cpu.workersAtUp[i]!, 0) * 1000) / r.backups.length);
    const failed = g.flatMap((r) => r.backups.filter((j) => j.state === 'failed')).length;
    const prunes = g.flatMap((r) => r.prunes);
    L.push(`| ${fleetLabel(r0, meta.hosts, meta.sources)} | ${r0.options.concurrency} | ${ms(percentile(run, 50))} / ${ms(percentile(run, 90))} / ${ms(Math.max(...run))}${failed ? ` (${failed} failed)` : ''} | ${ms(median(own))} | ${s(percentile(wait, 50))} / ${s(percentile(wait, 90))} | ${g.map((r) => maxInFlight(r.backups)).join(', ')} | ${(median(workerCpu)).toFixed(1)} / ${median(g.map((r) => r.cpu.api)).toFixed(1)} / ${median(g.map((r) => r.cpu.redis)).toFixed(1)} | ${range(startup, (x) => x.toFixed(2))} | ${range(perBackup, (x) => x.toFixed(0))} | ${median(g.map((r) => r.prunes.length))}, ${ms(percentile(prunes.map((j) => j.finishedAt - j.startedAt), 50))} |`);
  }
  L.push('', 'GET /api/sources (superadmin token, 100 sources in the answer; ms; all rounds of a row pooled):', '');
  L.push('| when | requests | p50 | p95 | p99 | max | req/s | API CPU per request (median of rounds) | non-200 |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const idle = results.filter((r) => r.options.busyConnections === 0);
  const body = idle[0]?.idle.bodyBytes ?? 0;
  L.push(latencyRow(`idle, 1 connection, back to back (${body} B answers)`, idle.flatMap((r) => r.idle.sequential), undefined, idle.map((r) => r.idle.apiCpuMs.sequential)));
  const conc = idle[0]?.options.idleConnections ?? 8;
  L.push(latencyRow(`idle, ${conc} connections`, idle.flatMap((r) => r.idle.concurrent), idle.reduce((a, r) => a + r.idle.concurrentWallMs, 0), idle.map((r) => r.idle.apiCpuMs.concurrent)));
  L.push(latencyRow('idle, 1 connection: GET /api/sources/no-such-source/backups (the token check and a 404, no Redis)', idle.flatMap((r) => r.idle.notFound), undefined, idle.map((r) => r.idle.apiCpuMs.notFound)));
  for (const g of all) {
    const r0 = g[0]!;
    const name = `during the round (${r0.options.shape}, BACKUP_CONCURRENCY ${r0.options.concurrency})`;
    if (r0.options.busyConnections === 0) L.push(latencyRow(`${name}: the benchmark's poll, 1 every ${r0.options.pollMs} ms`, g.flatMap((r) => r.pollSamples)));
    else L.push(latencyRow(`${name}: ${r0.options.busyConnections} connections back to back`, g.flatMap((r) => r.busySamples), g.reduce((a, r) => a + r.polledDoneMs, 0)));
  }
  const withBreakdown = results.filter((r) => r.breakdown);
  if (withBreakdown.length > 0) {
    L.push('', `The route's reads alone, in the benchmark's process with snapkeep's functions, against the idle fleet's Redis (ms, p50 / p99 of ${withBreakdown[0]!.options.idleRequests} each; rounds: ${withBreakdown.length}, ranges across them):`, '');
    L.push('| part | p50 | p99 |', '| --- | ---: | ---: |');
    for (const part of Object.keys(withBreakdown[0]!.breakdown!)) {
      L.push(`| ${part} | ${range(withBreakdown.map((r) => r.breakdown![part]!.p50), ms)} | ${range(withBreakdown.map((r) => r.breakdown![part]!.p99), ms)} |`);
    }
  }
  L.push('', 'Memory once the round and its prunes are done (MiB; ranges across the rounds of a row):', '');
  L.push('| fleet | BACKUP_CONCURRENCY | worker RSS (each of 4) | worker peak RSS | API RSS before the round → after | Redis used_memory / RSS | Redis keys | Redis clients |', '| --- | ---: | --- | --- | --- | --- | --- | --- |');
  for (const g of all) {
    const r0 = g[0]!;
    L.push(`| ${fleetLabel(r0, meta.hosts, meta.sources)} | ${r0.options.concurrency} | ${range(g.flatMap((r) => r.workerMemory.map((m) => m.rss)), mib)} | ${range(g.flatMap((r) => r.workerMemory.map((m) => m.peak)), mib)} | ${range(g.map((r) => r.apiMemoryBefore.rss), mib)} → ${range(g.map((r) => r.apiMemory.rss), mib)} | ${range(g.map((r) => r.redis.usedMemory), mib)} / ${range(g.map((r) => r.redis.usedMemoryRss), mib)} | ${range(g.map((r) => r.redis.keys), String)} | ${range(g.map((r) => r.redis.clients), String)} |`);
  }
  const problems = new Map<string, number>();
  for (const r of results) for (const [k, n] of r.problems) problems.set(k.replace(/^w\d+ /, 'worker '), (problems.get(k.replace(/^w\d+ /, 'worker ')) ?? 0) + n);
  L.push('', problems.size === 0 ? 'The services logged nothing at warn or above.' : `Logged at warn or above, over all ${results.length} rounds: ${[...problems].map(([k, n]) => `${n} × ${k}`).join('; ')}.`);
  return L.join('\n');
}
