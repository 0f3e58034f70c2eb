/**
 * profile-top summarises a V8 .cpuprofile (from `node --cpu-prof`, or `npm run bench -- --profile
 * DIR`): total, idle and GC time, then the functions with the most self time, and the packages
 * (node_modules/<name>, node: internals, native) that own it.
 *
 * Run: node --import tsx scripts/bench/profile-top.ts FILE.cpuprofile [top=25]
 */
import { readFileSync } from 'node:fs';

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface Profile { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] }

const [file, topArg] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-top.ts FILE.cpuprofile [top]');
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i]!;
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}

const owner = (frame: CallFrame): string => {
  if (frame.url === '') return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  if (frame.url.startsWith('node:')) return 'node:' + frame.url.slice(5).split('/')[0];
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(frame.url);
  if (m) return m[1]!;
  return 'snapkeep';
};

const total = profile.endTime - profile.startTime;
const functions = new Map<string, number>();
const owners = new Map<string, number>();
for (const [id, us] of selfUs) {
  const frame = byId.get(id)!.callFrame;
  const where = frame.url ? `${frame.url.replace(/^.*\/(node_modules\/|dist\/)/, '$1')}:${frame.lineNumber + 1}` : '';
  const key = `${frame.functionName || '(anonymous)'} ${where}`.trim();
  functions.set(key, (functions.get(key) ?? 0) + us);
  owners.set(owner(frame), (owners.get(owner(frame)) ?? 0) + us);
}
const ms = (us: number): string => (us / 1000).toFixed(0).padStart(7);
const pct = (us: number): string => ((100 * us) / total).toFixed(1).padStart(5);
console.log(`${file}: ${(total / 1e6).toFixed(2)} s profiled`);
console.log('\nby owner (self time):');
for (const [name, us] of [...owners].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${ms(us)} ms ${pct(us)} %  ${name}`);
console.log(`\ntop ${top} functions (self time):`);
for (const [name, us] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${ms(us)} ms ${pct(us)} %  ${name}`);
