import { describe, expect, it } from 'vitest';
import { storeReachability } from '../../src/api/store-reachability.js';
import type { BackupStore } from '../../src/storage/backup-store.js';

/** A store whose check() waits for the test to settle it, counting the checks asked for. */
function controllableStore() {
  const pending: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  const store = {
    check: () => new Promise<void>((resolve, reject) => { pending.push({ resolve, reject }); }),
  } as unknown as BackupStore;
  return { store, pending };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('storeReachability (GET /api/health asks the store through it)', () => {
  it('answers disabled without a store', async () => {
    expect(await storeReachability(undefined)()).toBe('disabled');
  });

  it('shares one check among the health requests that arrive while it runs, and reuses it for freshMs', async () => {
    let clock = 0;
    const { store, pending } = controllableStore();
    const check = storeReachability(store, { now: () => clock, freshMs: 1000 });
    const answers = Promise.all([check(), check(), check()]);
    await tick();
    expect(pending).toHaveLength(1);
    pending[0]!.resolve();
    expect(await answers).toEqual(['up', 'up', 'up']);
    clock = 999;
    expect(await check()).toBe('up');
    expect(pending).toHaveLength(1);
  });

  it('answers the last result at once while the store is slow to answer the next check, until it is too old', async () => {
    let clock = 0;
    const { store, pending } = controllableStore();
    const check = storeReachability(store, { now: () => clock, freshMs: 1000, staleMs: 15_000, timeoutMs: 60_000 });
    const first = check();
    await tick();
    pending[0]!.resolve();
    expect(await first).toBe('up');
    clock = 5000;
    expect(await check()).toBe('up'); // the second check is still pending
    expect(pending).toHaveLength(2);
    clock = 16_000; // the up is now too old to vouch for the store: wait for the check
    let settled = false;
    const late = check().then((r) => { settled = true; return r; });
    await tick();
    expect(settled).toBe(false);
    expect(pending).toHaveLength(2); // still the one check in flight
    pending[1]!.reject(new Error('connect ECONNREFUSED'));
    expect(await late).toBe('down');
  });

  it('never masks a failure: after a failed check, down until a check succeeds', async () => {
    let clock = 0;
    const { store, pending } = controllableStore();
    const check = storeReachability(store, { now: () => clock, freshMs: 1000, staleMs: 15_000 });
    const first = check();
    await tick();
    pending[0]!.reject(new Error('403 Forbidden'));
    expect(await first).toBe('down');
    clock = 500;
    expect(await check()).toBe('down');
    clock = 1500;
    expect(await check()).toBe('down'); // at once, while the next check is still pending
    expect(pending).toHaveLength(2);
    pending[1]!.resolve();
    await tick();
    expect(await check()).toBe('up');
    expect(pending).toHaveLength(2);
  });

  it('counts a check that takes longer than timeoutMs as down', async () => {
    const { store } = controllableStore();
    const check = storeReachability(store, { timeoutMs: 30 });
    expect(await check()).toBe('down');
  });
});
