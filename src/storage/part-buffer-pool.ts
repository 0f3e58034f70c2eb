/**
 * PartBufferPool hands out at most `count` buffers of `size` bytes, allocated on first need and
 * reused after that. An upload fills one while the others are in flight, so its memory is fixed
 * at count × size whatever the object's size, and the garbage collector never sees a part buffer.
 */
export class PartBufferPool {
  private readonly free: Buffer[] = [];
  private readonly waiting: Array<{ resolve: (buffer: Buffer) => void; reject: (error: Error) => void }> = [];
  private allocated = 0;
  private failure: Error | undefined;

  constructor(private readonly count: number, readonly size: number) {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`a pool needs at least one buffer, not ${count}`);
  }

  /** take resolves with a free buffer (its contents are stale), waiting for one to be given back. */
  take(): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    const buffer = this.free.pop();
    if (buffer) return Promise.resolve(buffer);
    if (this.allocated < this.count) {
      this.allocated += 1;
      // Not zero-filled: every byte is written before it is sent, and pages never written (the
      // tail of a small object's only buffer) never become resident.
      return Promise.resolve(Buffer.allocUnsafeSlow(this.size));
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /** give returns a buffer taken from this pool. */
  give(buffer: Buffer): void {
    const waiter = this.waiting.shift();
    if (waiter) waiter.resolve(buffer);
    else this.free.push(buffer);
  }

  /** fail rejects every waiting and future take with error: the upload has failed, stop filling. */
  fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.waiting.splice(0)) waiter.reject(this.failure);
  }
}
