import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * ProxyMode is how the proxy treats new connections: `pass` forwards them (throttled if asked),
 * `hang` accepts and reads but never answers (a server that stopped responding), `http-503`
 * answers every HTTP request with S3's ServiceUnavailable.
 */
export type ProxyMode = 'pass' | 'hang' | 'http-503';

/**
 * TcpProxy is a loopback TCP proxy in front of a real server, for fault tests: it can die and come
 * back on the same port (the server's state untouched), throttle, hang or answer 503.
 */
export interface TcpProxy {
  port: number;
  url: string;
  /** Bytes forwarded from clients to the server so far. */
  readonly bytesUp: number;
  /** HTTP requests answered with 503 so far. */
  readonly answered503: number;
  /** Connections accepted while hanging. */
  readonly hungConnections: number;
  /** Mode for new connections; `dropOpen` also cuts the open ones, so that keep-alive sockets see the change. */
  setMode(mode: ProxyMode, options?: { dropOpen?: boolean }): void;
  /** Bytes per second in each direction, or null for full speed; applies to open connections too. */
  throttle(bytesPerSecond: number | null): void;
  /** Resolves once bytesUp has reached n. */
  whenBytesUp(n: number, timeoutMs?: number): Promise<void>;
  /** kill stops listening and resets every connection: to clients the server just died. */
  kill(): Promise<void>;
  /** revive listens again on the same port. */
  revive(): Promise<void>;
  close(): Promise<void>;
}

const SERVICE_UNAVAILABLE = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>ServiceUnavailable</Code>'
  + '<Message>Please reduce your request rate.</Message></Error>';

/** startTcpProxy listens on a free loopback port (or the given one) and forwards to target. */
export async function startTcpProxy(target: { host: string; port: number }, options: { port?: number } = {}): Promise<TcpProxy> {
  let mode: ProxyMode = 'pass';
  let rate: number | null = null;
  let bytesUp = 0;
  let answered503 = 0;
  let hungConnections = 0;
  const sockets = new Set<Socket>();
  const waiters: Array<{ n: number; resolve: () => void }> = [];

  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // A reset is the point of kill(); nobody needs to hear about it.
    socket.on('error', () => undefined);
  };
  const countUp = (n: number): void => {
    bytesUp += n;
    for (const w of [...waiters]) if (bytesUp >= w.n) { waiters.splice(waiters.indexOf(w), 1); w.resolve(); }
  };
  // Forward one direction by hand, so the rate can change mid-connection and pauses throttle it.
  const forward = (from: Socket, to: Socket, onBytes: (n: number) => void): void => {
    from.on('data', (chunk: Buffer) => {
      onBytes(chunk.length);
      const flushed = to.write(chunk);
      if (rate !== null) {
        from.pause();
        setTimeout(() => from.resume(), (chunk.length / rate) * 1000);
      } else if (!flushed) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
    from.once('end', () => to.end());
  };

  const http503 = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    // Read the whole request first: answering mid-body would look like a reset, not a 503.
    req.resume();
    req.once('end', () => {
      answered503++;
      res.writeHead(503, { 'content-type': 'application/xml', connection: 'close' });
      res.end(SERVICE_UNAVAILABLE);
    });
  });

  const onConnection = (client: Socket): void => {
    track(client);
    if (mode === 'hang') {
      hungConnections++;
      client.resume();
      return;
    }
    if (mode === 'http-503') {
      http503.emit('connection', client);
      return;
    }
    const upstream = connect(target.port, target.host);
    track(upstream);
    forward(client, upstream, countUp);
    forward(upstream, client, () => undefined);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  };

  let server: Server | undefined;
  let port = options.port ?? 0;
  const listen = async (): Promise<void> => {
    const s = createServer(onConnection);
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    const address = s.address();
    port = typeof address === 'object' && address ? address.port : port;
    server = s;
  };
  const kill = async (): Promise<void> => {
    const s = server;
    server = undefined;
    for (const socket of sockets) socket.resetAndDestroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };

  await listen();
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    get bytesUp() { return bytesUp; },
    get answered503() { return answered503; },
    get hungConnections() { return hungConnections; },
    setMode(next, { dropOpen = false } = {}) {
      mode = next;
      if (dropOpen) for (const socket of sockets) socket.destroy();
    },
    throttle(bytesPerSecond) {
      rate = bytesPerSecond;
    },
    whenBytesUp(n, timeoutMs = 30_000) {
      if (bytesUp >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`proxy saw only ${bytesUp} of ${n} bytes`)), timeoutMs);
        waiters.push({ n, resolve: () => { clearTimeout(timer); resolve(); } });
      });
    },
    kill,
    revive: listen,
    async close() {
      await kill();
      http503.close();
    },
  };
}
