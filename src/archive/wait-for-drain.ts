/** DrainableStream is the part of a Node or streamx writable that backpressure needs. */
interface DrainableStream {
  once(event: 'drain' | 'close', listener: () => void): unknown;
  off(event: 'drain' | 'close', listener: () => void): unknown;
}

/**
 * waitForDrain resolves when a writable that refused a write drains, or closes: a stream destroyed
 * by its consumer never drains again, and waiting for 'drain' alone would hang. The caller checks
 * `destroyed` afterwards.
 */
export function waitForDrain(stream: DrainableStream): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.once('drain', done);
    stream.once('close', done);
  });
}
