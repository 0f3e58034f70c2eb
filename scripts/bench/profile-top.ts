/**
 * profile-top summarises a V8 .cpuprofile (from `node --cpu-prof`, or `npm run bench -- --profile
 * DIR`): total, idle and GC time, then the functions with the most self time, and the packages
 * (node_modules/<name>, node: internals, native) that own it.
 *
 * Run: node --import tsx scripts/bench/profile-top.ts FILE.cpuprofile [top=25]
 */
import { summariseProfile, topEntries } from './cpu-profile.js';

const [file, topArg] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-top.ts FILE.cpuprofile [top]');
const top = Number(topArg ?? 25);
const { totalUs, functions, owners } = summariseProfile(file);
const ms = (us: number): string => (us / 1000).toFixed(0).padStart(7);
const pct = (us: number): string => ((100 * us) / totalUs).toFixed(1).padStart(5);
console.log(`${file}: ${(totalUs / 1e6).toFixed(2)} s profiled`);
console.log('\nby owner (self time):');
for (const [name, us] of topEntries(owners, 15)) console.log(`${ms(us)} ms ${pct(us)} %  ${name}`);
console.log(`\ntop ${top} functions (self time):`);
for (const [name, us] of topEntries(functions, top)) console.log(`${ms(us)} ms ${pct(us)} %  ${name}`);
