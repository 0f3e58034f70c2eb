import { spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';

/** Netns is a network namespace joined to the host namespace by a veth pair on a /30. */
export interface Netns {
  name: string;
  /** The host end's address: what a process inside reaches the host's services by. */
  hostAddress: string;
  /** The namespace end's address. */
  nsAddress: string;
  /** The argv prefix that runs a command inside it. */
  exec: string[];
}

/** NetnsBed is a set of namespaces made for one test file, removed together. */
export interface NetnsBed {
  namespaces: Netns[];
  remove(): void;
}

const ip = (args: string[]): { ok: boolean; out: string } => {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}`.trim() };
};

const must = (args: string[]): void => {
  const r = ip(args);
  if (!r.ok) throw new Error(`ip ${args.join(' ')} failed: ${r.out}`);
};

/**
 * netnsUnavailable says why network namespaces cannot be made here (not root, no `ip`, a kernel or
 * container that refuses `ip netns add`), or undefined when a probe namespace was made and removed.
 */
export function netnsUnavailable(): string | undefined {
  const probe = `skprobe-${randomBytes(3).toString('hex')}`;
  const added = ip(['netns', 'add', probe]);
  if (!added.ok) return `\`ip netns add\` failed: ${added.out || 'no output'}`;
  ip(['netns', 'delete', probe]);
  return undefined;
}

/** usedThirdOctets are the x of every 10.231.x.y address already on this host (another run's). */
function usedThirdOctets(): Set<number> {
  const used = new Set<number>();
  for (const m of ip(['-4', '-o', 'addr', 'show']).out.matchAll(/inet 10\.231\.(\d+)\./g)) used.add(Number(m[1]));
  return used;
}

/**
 * createNetnsBed makes `count` namespaces, each with its own veth pair: host end 10.231.x.(4i+1)/30,
 * namespace end 10.231.x.(4i+2)/30, with x chosen free. A process inside reaches only the host
 * end's address (no default route), so only what listens there is shared. Removed on remove() and,
 * should the test process die first, when it exits.
 */
export function createNetnsBed(count: number): NetnsBed {
  const tag = randomBytes(3).toString('hex');
  const used = usedThirdOctets();
  let x = randomInt(0, 256);
  for (let tries = 0; used.has(x) && tries < 256; tries++) x = (x + 1) % 256;
  const namespaces: Netns[] = [];
  const remove = (): void => {
    for (const ns of namespaces) {
      // Deleting the namespace destroys its veth end, which takes the host end with it; delete both regardless.
      ip(['netns', 'delete', ns.name]);
    }
    for (let i = 0; i < count; i++) ip(['link', 'delete', `skf${tag}h${i}`]);
    namespaces.length = 0;
  };
  const reap = (): void => remove();
  process.once('exit', reap);
  try {
    for (let i = 0; i < count; i++) {
      const name = `skfleet-${tag}-${i}`;
      // Interface names are at most 15 characters.
      const hostIf = `skf${tag}h${i}`;
      const nsIf = `skf${tag}n${i}`;
      const hostAddress = `10.231.${x}.${4 * i + 1}`;
      const nsAddress = `10.231.${x}.${4 * i + 2}`;
      must(['netns', 'add', name]);
      namespaces.push({ name, hostAddress, nsAddress, exec: ['ip', 'netns', 'exec', name] });
      must(['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf]);
      must(['link', 'set', nsIf, 'netns', name]);
      must(['addr', 'add', `${hostAddress}/30`, 'dev', hostIf]);
      must(['link', 'set', hostIf, 'up']);
      must(['-n', name, 'addr', 'add', `${nsAddress}/30`, 'dev', nsIf]);
      must(['-n', name, 'link', 'set', nsIf, 'up']);
      must(['-n', name, 'link', 'set', 'lo', 'up']);
    }
  } catch (err) {
    remove();
    throw err;
  }
  return {
    namespaces,
    remove() {
      remove();
      process.off('exit', reap);
    },
  };
}

/** netnsLeftovers lists namespaces and links of a bed still present (for the clean-up assertion). */
export function netnsLeftovers(names: readonly string[]): string[] {
  const listed = ip(['netns', 'list']).out;
  const links = ip(['-o', 'link', 'show']).out;
  return names.filter((n) => listed.includes(n) || links.includes(n));
}
