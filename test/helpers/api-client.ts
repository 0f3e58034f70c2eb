import { request } from 'node:http';

/** JobView is the slice of `GET /api/jobs/:id` the tests read. */
export interface JobView {
  id: string;
  state: string;
  progress: { phase: string; percent: number } | null;
  attemptsMade: number;
  maxAttempts: number;
  result: unknown;
  failedReason: string | null;
}

/** pollJob polls a job's status URL until it is completed or failed. */
export async function pollJob(base: string, statusUrl: string, token: string, timeoutMs = 60_000): Promise<JobView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${base}${statusUrl}`, { headers: { authorization: `Bearer ${token}` } });
    if (res.status !== 200) throw new Error(`GET ${statusUrl} answered ${res.status}`);
    const body = (await res.json()) as JobView;
    if (body.state === 'completed' || body.state === 'failed') return body;
    if (Date.now() > deadline) throw new Error(`job did not finish: ${JSON.stringify(body)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** RawAnswer is a status and a parsed JSON body. */
export interface RawAnswer {
  status: number;
  body: unknown;
}

/**
 * rawRequest sends a request with the path exactly as given: fetch() would resolve `..` and
 * `%2e%2e` segments itself, and a test of what the server does with them must not let it.
 */
export function rawRequest(base: string, method: string, path: string, token: string): Promise<RawAnswer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { text += chunk; });
      res.on('end', () => {
        let body: unknown = text;
        try { body = JSON.parse(text); } catch { /* not JSON: keep the text for the assertion message */ }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}
