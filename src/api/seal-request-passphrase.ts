import { NoLiveWorkerError, type SealPassphrase } from '../age/passphrase-sealer.js';
import { ApiError } from './http-errors.js';

/**
 * sealRequestPassphrase seals a request's passphrase for the live workers, so only the sealed box
 * goes into job data (Redis). No passphrase: nothing to add. No live worker: 503, because a job
 * nobody can open would only fail later.
 */
export async function sealRequestPassphrase(seal: SealPassphrase | undefined, passphrase: string | undefined): Promise<{ sealedPassphrase?: string }> {
  if (passphrase === undefined) return {};
  if (!seal) throw new ApiError(503, 'passphrase_unavailable', 'this API process cannot take passphrases (it was started without a passphrase sealer)');
  try {
    return { sealedPassphrase: await seal(passphrase) };
  } catch (error) {
    if (error instanceof NoLiveWorkerError) throw new ApiError(503, 'no_worker', error.message);
    throw error;
  }
}
