import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, constants, openSync } from 'node:fs';
import { access, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, createServer, request, type OutgoingHttpHeaders } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { TestS3Server } from './s3-server.js';

const run = promisify(execFile);

/**
 * TestCephRgw is a one-node Ceph cluster (one mon, one memstore OSD, one radosgw) serving S3 on
 * loopback, owned by one test file: a production-grade S3 server beside s3rver. Shaped like
 * TestS3Server, so tests can run the same code against either.
 */
export interface TestCephRgw extends Omit<TestS3Server, 'accessKeyId' | 'directory'> {
  /** A recorder in front of radosgw: requests sent here are kept in `requests`, then passed on unchanged. */
  endpoint: string;
  /** radosgw itself, with nothing in between. */
  rgwEndpoint: string;
  accessKeyId: string;
  /** The cluster's directory: ceph.conf, the daemons' data and logs (`log/`). */
  directory: string;
}

/** The daemons, in the order they start; close() stops them in reverse. */
const DAEMONS = [
  { name: 'mon.a', command: 'ceph-mon', args: ['-i', 'a'] },
  { name: 'osd.0', command: 'ceph-osd', args: ['-i', '0'] },
  { name: 'client.rgw.a', command: 'radosgw', args: ['-n', 'client.rgw.a'] },
] as const;

const COMMANDS = ['ceph-authtool', 'monmaptool', 'ceph-mon', 'ceph', 'ceph-osd', 'radosgw', 'radosgw-admin'];

// Ports for the mon (v2, v1), radosgw, and the OSD's eight messengers, in one block below the
// kernel's ephemeral range (32768 and up), where no port-0 listener of another test can land.
const PORT_BLOCK = 16;

/**
 * startCephRgw starts a cluster in a fresh temporary directory on free loopback ports (nothing
 * listens beyond 127.0.0.1), creates a user and one bucket, and resolves once the bucket exists
 * (about 5 s here; needs the Debian packages ceph-mon, ceph-osd, radosgw and ceph-common). The
 * daemons are children of this process, run in the foreground; close() kills them and removes the
 * directory. A failed start does the same and rejects with the tails of the daemons' logs.
 */
export async function startCephRgw(options: { bucket?: string } = {}): Promise<TestCephRgw> {
  await requireCommands(COMMANDS);
  const bucket = options.bucket ?? 'snapkeep-test';
  const accessKeyId = 'snapkeep-ceph';
  const secretAccessKey = `secret-${randomUUID()}`;
  const directory = await mkdtemp(join(tmpdir(), 'snapkeep-ceph-'));
  const conf = join(directory, 'ceph.conf');
  const children: ChildProcess[] = [];
  let recorder: Recorder | undefined;

  const stop = async (): Promise<void> => {
    // SIGKILL: the data is thrown away, and a memstore OSD stopped gently would first write it all to disk.
    await Promise.all([...children].reverse().map(async (child) => {
      // Never started (pid undefined), or gone already: nothing to wait for.
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }));
    await recorder?.close();
    await rm(directory, { recursive: true, force: true });
  };

  try {
    const base = await freePortBlock(PORT_BLOCK);
    const [monV2, monV1, rgwPort] = [base, base + 1, base + 2];
    const fsid = randomUUID();
    const osdUuid = randomUUID();
    await Promise.all(['run', 'log', 'mon.a', 'osd.0', 'rgw.a'].map((sub) => mkdir(join(directory, sub))));
    await writeFile(conf, cephConf({ directory, fsid, monV2, monV1, rgwPort, osdPorts: [base + 3, base + PORT_BLOCK - 1] }));
    const ceph = (command: string, ...args: string[]): Promise<unknown> => run(command, ['-c', conf, ...args], { timeout: 60_000 });

    await run('ceph-authtool', ['--create-keyring', join(directory, 'keyring'), '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *'], { timeout: 60_000 });
    await run('monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', `[v2:127.0.0.1:${monV2},v1:127.0.0.1:${monV1}]`, join(directory, 'monmap')], { timeout: 60_000 });
    await ceph('ceph-mon', '--mkfs', '-i', 'a', '--monmap', join(directory, 'monmap'), '--keyring', join(directory, 'keyring'));
    const [mon, osd, rgw] = DAEMONS;
    children.push(spawnDaemon(directory, conf, mon));
    // Waits for the mon to answer, so no polling before it.
    await ceph('ceph', '--connect-timeout', '30', 'osd', 'new', osdUuid, '0');
    await ceph('ceph-osd', '-i', '0', '--mkfs', '--osd-uuid', osdUuid);
    children.push(spawnDaemon(directory, conf, osd));
    // radosgw creates its pools, which waits for the OSD to come up: no need to wait for it here.
    children.push(spawnDaemon(directory, conf, rgw));
    const rgwEndpoint = `http://127.0.0.1:${rgwPort}`;
    await waitForHttp(rgwEndpoint, children, 120_000);
    await ceph('radosgw-admin', 'user', 'create', '--uid=snapkeep', '--display-name=snapkeep', `--access-key=${accessKeyId}`, `--secret-key=${secretAccessKey}`);
    const client = new S3Client({ endpoint: rgwEndpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
    try {
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
    } finally {
      client.destroy();
    }
    recorder = await startRecorder(rgwPort);
    return { endpoint: recorder.endpoint, rgwEndpoint, bucket, accessKeyId, secretAccessKey, directory, requests: recorder.requests, close: stop };
  } catch (error) {
    const logs = await logTails(directory);
    await stop();
    throw new Error(`Ceph RGW did not start: ${(error as Error).message}\n${logs}`, { cause: error });
  }
}

function cephConf(p: { directory: string; fsid: string; monV2: number; monV1: number; rgwPort: number; osdPorts: [number, number] }): string {
  const d = p.directory;
  return `[global]
fsid = ${p.fsid}
mon host = [v2:127.0.0.1:${p.monV2},v1:127.0.0.1:${p.monV1}]
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
ms bind port min = ${p.osdPorts[0]}
ms bind port max = ${p.osdPorts[1]}
auth cluster required = none
auth service required = none
auth client required = none
# radosgw asks for a 'secure' mon connection by default, which auth 'none' cannot offer
ms mon client mode = crc secure
run dir = ${d}/run
admin socket = ${d}/run/$name.asok
log file = ${d}/log/$name.log
keyring = ${d}/keyring
osd objectstore = memstore
memstore device bytes = ${4 * 1024 ** 3}
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 1
mon data avail crit = 0
# Every change to the cluster map (the OSD's boot, each of radosgw's pools) waits out this interval:
# 1 s by default, which made a start take 20 s instead of 5.
paxos propose interval = 0.01
paxos min wait = 0.001
[mon.a]
mon data = ${d}/mon.a
[osd.0]
osd data = ${d}/osd.0
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:${p.rgwPort}
rgw data = ${d}/rgw.a
rgw thread pool size = 64
# deleted objects' data is freed after 60 s instead of 2 h (memstore holds it in memory)
rgw gc obj min wait = 60
rgw gc processor period = 60
`;
}

/** requireCommands fails, saying what to install, when a command is not on PATH. */
async function requireCommands(commands: string[]): Promise<void> {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const command of commands) {
    const found = await Promise.any(dirs.map((dir) => access(join(dir, command), constants.X_OK))).then(() => true, () => false);
    if (!found) throw new Error(`${command} is not installed: apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw ceph-common`);
  }
}

/** spawnDaemon runs a Ceph daemon in the foreground, as a child killed with this process at the latest. */
function spawnDaemon(directory: string, conf: string, daemon: (typeof DAEMONS)[number]): ChildProcess {
  const out = openSync(join(directory, 'log', `${daemon.name}.out`), 'w');
  const child = spawn(daemon.command, ['-c', conf, '-f', ...daemon.args], { stdio: ['ignore', out, out] });
  closeSync(out);
  // A test file that fails before its afterAll must not leave a cluster running.
  const reap = (): void => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); };
  process.once('exit', reap);
  child.once('exit', () => process.off('exit', reap));
  child.once('error', () => undefined); // cannot happen after requireCommands, but must not crash the test process
  return child;
}

/** waitForHttp polls url until it answers at all, failing early when a daemon exits. */
async function waitForHttp(url: string, children: ChildProcess[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = children.find((child) => child.exitCode !== null || child.signalCode !== null);
    if (dead) throw new Error(`${dead.spawnargs[0]} exited (${dead.exitCode ?? dead.signalCode})`);
    try {
      await fetch(url, { signal: AbortSignal.timeout(2_000) });
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`radosgw did not answer on ${url} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** freePortBlock finds `size` consecutive free loopback ports below the ephemeral range. */
async function freePortBlock(size: number): Promise<number> {
  const free = (port: number): Promise<boolean> => new Promise((resolve) => {
    const server = createTcpServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * ((32_000 - 20_000) / size)) * size;
    let ok = true;
    for (let port = base; ok && port < base + size; port++) ok = await free(port);
    if (ok) return base;
  }
  throw new Error(`no ${size} consecutive free ports between 20000 and 32000`);
}

interface Recorder {
  endpoint: string;
  requests: TestS3Server['requests'];
  close(): Promise<void>;
}

/**
 * startRecorder listens on a free loopback port and passes every request on to radosgw unchanged
 * (the Host header too, which the signature covers), keeping its method, URL and headers: what
 * TestS3Server records for s3rver.
 */
async function startRecorder(upstreamPort: number): Promise<Recorder> {
  const requests: TestS3Server['requests'] = [];
  const agent = new Agent({ keepAlive: true });
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    // This server answered any `Expect: 100-continue` already; the SDK does not sign that header.
    const { expect: _expect, ...headers } = req.headers;
    const upstream = request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: headers as OutgoingHttpHeaders, agent }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
      answer.once('error', (error) => res.destroy(error));
    });
    upstream.once('error', (error) => res.destroy(error));
    // A client that gives up (an aborted upload) gives up on radosgw too.
    res.once('close', () => { if (!res.writableFinished) upstream.destroy(); });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    async close() {
      server.closeAllConnections();
      agent.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** logTails is the end of every log in the cluster's directory, for a start that failed. */
async function logTails(directory: string): Promise<string> {
  const names = await readdir(join(directory, 'log')).catch(() => [] as string[]);
  const tails = await Promise.all(names.map(async (name) => {
    const lines = (await readFile(join(directory, 'log', name), 'utf8').catch(() => '')).trimEnd().split('\n');
    return `--- ${name}\n${lines.slice(-20).join('\n')}`;
  }));
  return tails.join('\n');
}
