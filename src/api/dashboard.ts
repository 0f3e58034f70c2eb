import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Router } from 'express';
import type { Queues } from '../queue/queues.js';

export const DASHBOARD_PATH = '/admin/queues';

/** dashboardRouter is Bull Board over the backup, restore and prune queues; auth is the caller's job. */
export function dashboardRouter(queues: Queues): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(DASHBOARD_PATH);
  createBullBoard({
    queues: queues.all.map(({ queue }) => new BullMQAdapter(queue)),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'snapkeep' } },
  });
  return serverAdapter.getRouter() as Router;
}
