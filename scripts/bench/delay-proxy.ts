/**
 * delay-proxy: a TCP proxy that behaves like a link with a round-trip time, for kernels without
 * netem (CONFIG_NET_SCH_NETEM is not set on the benchmark machine, so `tc qdisc … netem` fails with
 * "Specified qdisc kind is unknown"). For every connection it
 *
 *   - holds the connection for one round trip before it connects upstream (the SYN / SYN-ACK);
 *   - delivers every chunk, in order, rttMs / 2 after it read it, in each direction;
 *   - keeps at most `cwnd` bytes in flight per direction, a byte counting as in flight until one
 *     round trip after it was read (its "ack"); `cwnd` starts at TCP's initial window (10 × 1448 B)
 *     and grows by every byte acked (slow start) up to maxWindowBytes (default 4 MiB, about the
 *     window Linux's autotuning reaches: one connection then carries at most 4 MiB per round trip,
 *     140 MB/s at 30 ms).
 *
 * It does not model loss, congestion avoidance or a bottleneck bandwidth; it runs in the process
 * that starts it, on loopback.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface DelayProxy { port: number; close(): Promise<void> }

export interface DelayProxyOptions { targetPort: number; rttMs: number; maxWindowBytes?: number; initialWindowBytes?: number }

function delayedPipe(src: Socket, dst: Socket, o: Required<DelayProxyOptions>): void {
  const oneWay = o.rttMs / 2;
  let cwnd = o.initialWindowBytes;
  let inflight = 0;
  let paused = false;
  src.on('data', (chunk: Buffer) => {
    inflight += chunk.length;
    setTimeout(() => { if (!dst.destroyed) dst.write(chunk); }, oneWay);
    setTimeout(() => {
      inflight -= chunk.length;
      cwnd = Math.min(o.maxWindowBytes, cwnd + chunk.length);
      if (paused && inflight < cwnd) { paused = false; src.resume(); }
    }, o.rttMs);
    if (inflight >= cwnd) { paused = true; src.pause(); }
  });
  src.once('end', () => setTimeout(() => { if (!dst.destroyed) dst.end(); }, oneWay));
}

export async function startDelayProxy(options: DelayProxyOptions): Promise<DelayProxy> {
  const o: Required<DelayProxyOptions> = { maxWindowBytes: 4 * 2 ** 20, initialWindowBytes: 10 * 1448, ...options };
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    client.pause();
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    setTimeout(() => {
      if (client.destroyed) return;
      const upstream = connect(o.targetPort, '127.0.0.1', () => {
        delayedPipe(client, upstream, o);
        delayedPipe(upstream, client, o);
        client.resume();
      });
      sockets.add(upstream);
      upstream.once('close', () => { sockets.delete(upstream); setTimeout(() => client.destroy(), o.rttMs / 2); });
      client.once('close', () => setTimeout(() => upstream.destroy(), o.rttMs / 2));
      upstream.on('error', () => client.destroy());
    }, o.rttMs);
    client.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
