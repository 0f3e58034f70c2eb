import { Router } from 'express';
import { VERSION } from '../../version.js';
import { buildOpenApiDocument } from '../openapi/openapi-document.js';

/** OPENAPI_PATH is where the document is served. */
export const OPENAPI_PATH = '/api/openapi.json';

/**
 * openapiRouter serves the OpenAPI document without a token: it describes the API's shape and holds
 * nothing secret, and tools (Swagger UI, client generators, gateways) fetch it unauthenticated.
 */
export function openapiRouter(): Router {
  const router = Router();
  const body = JSON.stringify(buildOpenApiDocument(VERSION), null, 2);
  router.get('/', (_req, res) => {
    res.type('application/json').send(body);
  });
  return router;
}
