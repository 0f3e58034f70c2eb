import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** ReceivedRequest is one request the receiver got, whole. */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** ReceiverMode is how the receiver answers: 200, 500, or never (it reads the request and holds it open). */
export type ReceiverMode = 'ok' | 'error' | 'hang';

/**
 * WebhookReceiver is a real HTTP server on a free loopback port that records every request, for
 * notification tests: a webhook endpoint and a healthchecks.io stand-in at once (any path).
 */
export interface WebhookReceiver {
  /** `http://127.0.0.1:{port}` */
  url: string;
  requests: ReceivedRequest[];
  /** Requests read but not answered yet (mode `hang`). */
  readonly held: number;
  setMode(mode: ReceiverMode): void;
  /** releaseHeld cuts the connections of the requests held open (the sender sees a network error). */
  releaseHeld(): void;
  /** waitFor polls until accept(requests) holds, or throws with what arrived. */
  waitFor(accept: (requests: ReceivedRequest[]) => boolean, timeoutMs?: number): Promise<ReceivedRequest[]>;
  /** The JSON bodies of the requests to `path` (webhook events). */
  events(path?: string): Array<{ event: string; [key: string]: unknown }>;
  close(): Promise<void>;
}

/** startWebhookReceiver listens on 127.0.0.1, port 0. */
export async function startWebhookReceiver(mode: ReceiverMode = 'ok'): Promise<WebhookReceiver> {
  let current = mode;
  const requests: ReceivedRequest[] = [];
  const held = new Set<ServerResponse>();
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (current === 'hang') { held.add(res); return; }
      res.writeHead(current === 'ok' ? 200 : 500, { 'content-type': 'text/plain' });
      res.end(current === 'ok' ? 'OK' : 'boom');
    });
  });
  server.on('connection', (s: Socket) => { sockets.add(s); s.once('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get held() { return held.size; },
    setMode(next) { current = next; },
    releaseHeld() {
      for (const res of held) res.socket?.destroy();
      held.clear();
    },
    async waitFor(accept, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!accept(requests)) {
        if (Date.now() > deadline) throw new Error(`the receiver never got what was expected: ${JSON.stringify(requests.map((r) => `${r.method} ${r.path} ${r.body.slice(0, 200)}`))}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      return requests;
    },
    events(path = '/hook') {
      return requests.filter((r) => r.path === path).map((r) => JSON.parse(r.body) as { event: string });
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** signatureVerifies checks `X-Snapkeep-Signature: sha256=<hex>` against the body, as a receiver would. */
export function signatureVerifies(request: ReceivedRequest, secret: string): boolean {
  const header = String(request.headers['x-snapkeep-signature'] ?? '');
  const m = /^sha256=([0-9a-f]{64})$/.exec(header);
  if (!m) return false;
  const expected = createHmac('sha256', secret).update(request.body, 'utf8').digest();
  return timingSafeEqual(expected, Buffer.from(m[1]!, 'hex'));
}
