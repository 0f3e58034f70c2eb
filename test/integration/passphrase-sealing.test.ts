import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EphemeralKeyring } from '../../src/age/ephemeral-keyring.js';
import { NoLiveWorkerError, passphraseSealer } from '../../src/age/passphrase-sealer.js';
import { liveWorkerRecipients, publishRecipient, workerRecipientsKey } from '../../src/age/worker-recipients.js';
import { createLogger } from '../../src/logging/create-logger.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

const logger = createLogger({ level: 'error', format: 'json' });

describe('passphrases sealed for live workers, through a real Redis', () => {
  let redisServer: TestRedis;
  let redis: Redis;

  beforeAll(async () => {
    redisServer = await startRedis();
    redis = new Redis(redisServer.url);
  });
  afterAll(async () => {
    redis?.disconnect();
    await redisServer?.close();
  });

  const fresh = () => ({ queuePrefix: `t${randomBytes(4).toString('hex')}`, masterKey: randomBytes(32) });

  it('seals for every live worker, so any of them opens it, and Redis holds only the sealed box', async () => {
    const { queuePrefix, masterKey } = fresh();
    const [a, b] = await Promise.all([EphemeralKeyring.create(), EphemeralKeyring.create()]);
    const published = await Promise.all([a, b].map((k) => publishRecipient(redis, { queuePrefix, masterKey, recipient: k.recipient, logger })));
    const seal = passphraseSealer(redis, { queuePrefix, masterKey, previousMasterKeys: [] });
    const sealed = await seal('tr0ub4dor&3');
    expect(await a.open(sealed)).toBe('tr0ub4dor&3');
    expect(await b.open(sealed)).toBe('tr0ub4dor&3');
    const stored = await redis.zrange(workerRecipientsKey(queuePrefix), '0', '-1');
    expect(stored.join('\n')).not.toContain('AGE-SECRET-KEY');
    await Promise.all(published.map((p) => p.stop()));
    await expect(seal('x')).rejects.toBeInstanceOf(NoLiveWorkerError);
  });

  it('ignores a key slipped into Redis without the master key, and accepts one vouched for by a previous key', async () => {
    const { queuePrefix, masterKey } = fresh();
    const intruder = await EphemeralKeyring.create();
    await redis.zadd(workerRecipientsKey(queuePrefix), Date.now() + 60_000, `${intruder.recipient}.${'00'.repeat(32)}`);
    const seal = passphraseSealer(redis, { queuePrefix, masterKey, previousMasterKeys: [] });
    await expect(seal('secret')).rejects.toBeInstanceOf(NoLiveWorkerError);

    const worker = await EphemeralKeyring.create();
    const oldKey = randomBytes(32);
    const published = await publishRecipient(redis, { queuePrefix, masterKey: oldKey, recipient: worker.recipient, logger });
    // The API already runs with the new MASTER_KEY, the worker still with the old one.
    const rotating = passphraseSealer(redis, { queuePrefix, masterKey, previousMasterKeys: [oldKey] });
    const sealed = await rotating('secret');
    expect(await worker.open(sealed)).toBe('secret');
    await expect(intruder.open(sealed)).rejects.toThrow(/request the backup again/);
    await published.stop();
  });

  it('forgets a worker whose heartbeat stopped', async () => {
    const { queuePrefix, masterKey } = fresh();
    const worker = await EphemeralKeyring.create();
    const published = await publishRecipient(redis, { queuePrefix, masterKey, recipient: worker.recipient, logger, ttlMs: 300, heartbeatMs: 60_000 });
    expect(await liveWorkerRecipients(redis, { queuePrefix, masterKeys: [masterKey] })).toEqual([worker.recipient]);
    await new Promise((r) => setTimeout(r, 400));
    expect(await liveWorkerRecipients(redis, { queuePrefix, masterKeys: [masterKey] })).toEqual([]);
    await published.stop();
  });
});
