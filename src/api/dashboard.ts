import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { RequestHandler } from 'express';
import type { Queues } from '../queue/queues.js';
import { ApiError } from './http-errors.js';

export const DASHBOARD_PATH = '/admin/queues';

/**
 * The dashboard is for looking only. Bull Board's read-only mode hides and refuses its writes
 * (add, retry, promote, clean, update-data, obliterate, pause); on top of that every method but
 * GET and HEAD is refused before Bull Board sees it, so a route a future version adds, or one the
 * read-only mode forgets, cannot change a queue either, and a cross-site form post (the browser
 * sends Basic credentials by itself) has nothing to call. Jobs are made by the API, which
 * validates and signs them.
 */
const onlyReads: RequestHandler = (req, _res, next) => {
  if (req.method === 'GET' || req.method === 'HEAD') { next(); return; }
  next(new ApiError(405, 'method_not_allowed', 'the dashboard is read-only: use the API to start, restore or prune', { Allow: 'GET, HEAD' }));
};

// Bull Board's page asks Google for a web font: a browser on an operator's network would tell a
// third party whenever the dashboard is opened, and wait on it where the internet is closed.
const EXTERNAL_FONT_LINK = /<link[^>]+href="https:\/\/fonts\.googleapis\.com[^"]*"[^>]*>/g;

/**
 * selfContained strips the font link from the HTML page and forbids, by Content-Security-Policy,
 * any resource from outside the service (scripts, styles, fonts, images, connections).
 */
const selfContained: RequestHandler = (_req, res, next) => {
  res.setHeader('Content-Security-Policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'none'; base-uri 'self'");
  res.setHeader('X-Frame-Options', 'DENY');
  const send = res.send.bind(res);
  res.send = (body?: unknown) => send(typeof body === 'string' ? body.replace(EXTERNAL_FONT_LINK, '') : body);
  next();
};

/**
 * dashboardHandlers are Bull Board, read-only, over every queue (queues.all), behind
 * the two guards above; auth is the caller's job. Handlers, not one Router: mounted with app.use,
 * Bull Board stays a sub-app the API's route listing (and its OpenAPI test) can see.
 */
export function dashboardHandlers(queues: Queues): RequestHandler[] {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(DASHBOARD_PATH);
  createBullBoard({
    queues: queues.all.map(({ queue }) => new BullMQAdapter(queue, { readOnlyMode: true, allowRetries: false })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'snapkeep' } },
  });
  return [onlyReads, selfContained, serverAdapter.getRouter() as RequestHandler];
}
