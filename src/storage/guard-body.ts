import { addAbortSignal, finished, type Readable } from 'node:stream';

/** GuardedBody is a put's body as the store reads it. */
export interface GuardedBody {
  /** The body's bytes. Leaving the loop early does not destroy the body: fail() does, with a reason. */
  chunks: AsyncGenerator<Buffer, void, undefined>;
  /** The body's own error (or the abort), once reading it has failed; undefined while it has not. */
  readonly error: Error | undefined;
  /** fail destroys an unfinished body with the put's error, so a producer piping into it learns why. */
  fail(error: Error): void;
}

/**
 * guardBody wraps a put's body so that a failed put destroys it with the put's own error, not the
 * bare "premature close" a stream iterator leaves behind, and so that the signal aborts the read.
 */
export function guardBody(body: Readable, signal: AbortSignal | undefined): GuardedBody {
  if (signal) addAbortSignal(signal, body);
  // An 'error' listener for as long as the body lives: fail() must never crash a process whose
  // caller attached none.
  finished(body, () => undefined);
  let bodyError: Error | undefined;
  async function* chunks(): AsyncGenerator<Buffer, void, undefined> {
    try {
      for await (const chunk of body.iterator({ destroyOnReturn: false })) {
        yield toBuffer(chunk as string | Uint8Array);
      }
    } catch (error) {
      bodyError = error instanceof Error ? error : new Error(String(error));
      throw bodyError;
    }
  }
  return {
    chunks: chunks(),
    get error() {
      return bodyError;
    },
    fail(error) {
      if (!body.destroyed && !body.readableEnded) body.destroy(error);
    },
  };
}

/**
 * toBuffer views a chunk as a Buffer without copying it (Buffer.from(uint8Array) copies: a second
 * copy of every byte uploaded, and twice the garbage for the collector).
 */
function toBuffer(chunk: string | Uint8Array): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk);
  if (Buffer.isBuffer(chunk)) return chunk;
  return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}
