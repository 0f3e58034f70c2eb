import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { asidePath, chooseStamp, newestAside, utcStamp } from '../../src/apply/aside-names.js';
import { formatCommandLine, parseCommandLine } from '../../src/apply/command-line.js';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import { removeDir } from '../helpers/redis-server.js';

describe('parseCommandLine: a stop or start command split into words, never run by a shell', () => {
  it.each([
    ['systemctl stop myapp', ['systemctl', 'stop', 'myapp']],
    ['  docker   compose  -f /srv/app/compose.yml stop  ', ['docker', 'compose', '-f', '/srv/app/compose.yml', 'stop']],
    [`sh -c 'systemctl stop myapp && sleep 1'`, ['sh', '-c', 'systemctl stop myapp && sleep 1']],
    [`node -e "process.kill(123)"`, ['node', '-e', 'process.kill(123)']],
    [`echo "a \\"quoted\\" \\$word" it\\'s`, ['echo', 'a "quoted" $word', "it's"]],
    [`touch ''`, ['touch', '']],
    ['svc@1 --flag=a,b', ['svc@1', '--flag=a,b']],
  ])('%s', (text, argv) => {
    expect(parseCommandLine(text)).toEqual(argv);
  });

  it.each([
    ['systemctl stop myapp && sleep 1', /"&".*sh -c/],
    ['kill $(cat /run/app.pid)', /"\$"/],
    ['kill `cat pid`', /"`"/],
    ['rm /tmp/*.lock', /"\*"/],
    ['cat < x', /"<"/],
    ['~/bin/stop', /"~"/],
    ['stop # comment', /"#"/],
    ['echo "$HOME"', /"\$"/],
    [`echo 'open`, /unclosed ' quote/],
    ['echo \\', /lone backslash/],
    ['   ', /empty/],
  ])('refuses %s', (text, why) => {
    expect(() => parseCommandLine(text)).toThrow(why);
  });

  it('formats argv back into a line that parses to the same words', () => {
    for (const argv of [['kill', '-TERM', '42'], ['sh', '-c', "echo it's done && exit 0"], ['touch', '/srv/my app/started']]) {
      expect(parseCommandLine(formatCommandLine(argv))).toEqual(argv);
    }
  });
});

describe('APP_STOP_COMMAND and APP_START_COMMAND settings', () => {
  const base = { BACKUP_LOCAL_DIR: '/tmp/snapkeep-x', MASTER_KEY: 'ab'.repeat(32), DB_PATH: '/tmp/app.db' };

  it('are split into argv; the commands get only PATH, HOME and locale, never a secret setting', () => {
    const config = loadConfig({ ...base, APP_STOP_COMMAND: 'systemctl stop myapp', APP_START_COMMAND: `sh -c 'systemctl start myapp'`, PATH: '/usr/bin', HOME: '/root', LANG: 'C.UTF-8', REDIS_URL: 'redis://:pw@h:6379' });
    expect(config.appCommands).toEqual({
      stop: ['systemctl', 'stop', 'myapp'], start: ['sh', '-c', 'systemctl start myapp'],
      env: { PATH: '/usr/bin', HOME: '/root', LANG: 'C.UTF-8' },
    });
    expect(loadConfig(base).appCommands).toMatchObject({ stop: undefined, start: undefined });
  });

  it('report a command only a shell could run, naming the variable', () => {
    let problems: string[] = [];
    try {
      loadConfig({ ...base, APP_STOP_COMMAND: 'systemctl stop myapp; sleep 1', APP_START_COMMAND: `echo 'open` });
    } catch (err) {
      problems = (err as ConfigError).problems;
    }
    expect(problems).toEqual([
      expect.stringMatching(/^APP_STOP_COMMAND: uses ";", which only a shell understands/),
      'APP_START_COMMAND: has an unclosed \' quote',
    ]);
  });
});

describe('pre-apply and pre-rollback names', () => {
  let dir = '';
  afterEach(() => { if (dir) removeDir(dir); });

  it('share one stamp per operation, never reuse a taken name, and the newest is found by time then counter', async () => {
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-aside-'));
    const db = join(dir, 'app.db');
    const now = new Date('2026-11-22T02:00:00.250Z');
    expect(utcStamp(now)).toBe('20261122T020000Z');
    const names = (stamp: string): string[] => [asidePath(db, 'pre-apply', stamp), `${asidePath(db, 'pre-apply', stamp)}-wal`];
    expect(await chooseStamp(now, names)).toBe('20261122T020000Z');
    writeFileSync(`${asidePath(db, 'pre-apply', '20261122T020000Z')}-wal`, '');
    expect(await chooseStamp(now, names)).toBe('20261122T020000Z-2');
    expect(await newestAside(db, 'pre-apply')).toBeUndefined();
    for (const stamp of ['20261122T020000Z', '20261122T020000Z-2', '20261121T235959Z']) writeFileSync(asidePath(db, 'pre-apply', stamp), '');
    writeFileSync(asidePath(db, 'pre-rollback', '20991231T000000Z'), '');
    writeFileSync(`${db}.pre-apply.garbage`, '');
    expect(await newestAside(db, 'pre-apply')).toEqual({ path: asidePath(db, 'pre-apply', '20261122T020000Z-2'), stamp: '20261122T020000Z-2' });
  });
});
