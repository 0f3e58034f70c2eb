import { BACKUP_ID_PATTERN, SCHEMAS, SOURCE_NAME_PATTERN, type JsonSchema } from './openapi-schemas.js';

/** Who may call an operation: DESIGN's roles, also given as `x-snapkeep-role` so tools and tests can read them. */
type Access = 'public' | 'any-token' | 'superadmin' | 'dashboard';

const json = (schemaName: string) => ({ 'application/json': { schema: { $ref: `#/components/schemas/${schemaName}` } } });
const error = (description: string) => ({ description, content: json('Error') });

const AUTH_ERRORS: Record<Exclude<Access, 'public'>, Record<string, unknown>> = {
  'any-token': {
    401: { ...error('Missing or unknown token.'), headers: { 'WWW-Authenticate': { schema: { type: 'string', examples: ['Bearer realm="snapkeep"'] } } } },
    429: error('Too many requests with invalid tokens from this client; try again later.'),
  },
  superadmin: {
    401: { ...error('Missing or unknown token.'), headers: { 'WWW-Authenticate': { schema: { type: 'string', examples: ['Bearer realm="snapkeep"'] } } } },
    403: error('A valid token without the superadmin role.'),
    429: error('Too many requests with invalid tokens from this client; try again later.'),
  },
  dashboard: {
    401: { ...error('Missing or unknown credentials.'), headers: { 'WWW-Authenticate': { schema: { type: 'string', examples: ['Basic realm="snapkeep", charset="UTF-8"'] } } } },
    403: error('A superadmin token: the dashboard takes viewer tokens only (it is read-only, and its password is kept by browsers).'),
    429: error('Too many requests with invalid credentials from this client; try again later.'),
  },
};

const SECURITY: Record<Access, Array<Record<string, string[]>>> = {
  public: [],
  'any-token': [{ bearerAuth: [] }],
  superadmin: [{ bearerAuth: [] }],
  dashboard: [{ basicAuth: [] }],
};

interface OperationSpec {
  summary: string;
  description?: string;
  access: Access;
  requestBody?: string;
  parameters?: JsonSchema[];
  responses: Record<string, unknown>;
}

function operation(id: string, spec: OperationSpec): JsonSchema {
  return {
    operationId: id,
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
    security: SECURITY[spec.access],
    'x-snapkeep-role': spec.access,
    ...(spec.parameters ? { parameters: spec.parameters } : {}),
    ...(spec.requestBody ? { requestBody: { required: false, content: json(spec.requestBody) } } : {}),
    responses: { ...spec.responses, ...(spec.access === 'public' ? {} : AUTH_ERRORS[spec.access]), 500: error('Unexpected failure; logged on the server.') },
  };
}

const BACKUPS_DISABLED = error('Backups are disabled (`backups_disabled`: BACKUP_S3_ENDPOINT and BACKUP_LOCAL_DIR are unset), '
  + 'the store is unreachable (`store_unavailable`, `listing_incomplete`), or Redis is (`queue_unavailable`).');
const QUEUE_UNAVAILABLE = error('Redis is unreachable (`queue_unavailable`); try again shortly.');
const BAD_BODY = error('The body is not valid JSON (`invalid_json`) or not what the operation takes (`invalid_request`).');
const accepted = { description: 'Enqueued: poll `statusUrl`.', content: json('Accepted') };
/** The `{id}` of a call about one backup. */
const BACKUP_ID_PARAMETER = [{ name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: BACKUP_ID_PATTERN } }];
/** What a call that enqueues a job about one backup answers. */
const BACKUP_JOB_RESPONSES = {
  202: accepted,
  400: error('Not a backup id (`invalid_backup_id`), or a bad body.'),
  404: error('No such backup (`backup_not_found`).'),
  503: BACKUPS_DISABLED,
};

/**
 * buildOpenApiDocument is the OpenAPI 3.1 description of snapkeep's HTTP API: every endpoint the
 * app serves (a test checks the app's route table against it), its schemas and security schemes.
 */
export function buildOpenApiDocument(version: string): JsonSchema {
  const document = buildBaseDocument(version);
  const paths = document.paths as Record<string, Record<string, JsonSchema>>;
  return { ...document, tags: [...(document.tags as JsonSchema[]), { name: 'sources' }], paths: { ...paths, ...sourcePaths(paths) } };
}

const SOURCE_PARAMETER = { name: 'name', in: 'path', required: true, schema: { type: 'string', pattern: SOURCE_NAME_PATTERN }, description: 'A source declared in SNAPKEEP_CONFIG.' };
const SOURCE_NOT_FOUND = 'No source of that name is declared (`source_not_found`).';

/**
 * sourcePaths are `/api/sources` and, for each `/api/backups…` operation, the same one for a named
 * source (`/api/sources/{name}/backups…`, and `/api/sources/{name}/prune`): what `/api/backups…`
 * does for the primary source (`default`, or the only one), these do for any.
 */
function sourcePaths(paths: Record<string, Record<string, JsonSchema>>): Record<string, Record<string, JsonSchema>> {
  const out: Record<string, Record<string, JsonSchema>> = {
    '/api/sources': {
      get: { tags: ['sources'], ...operation('listSources', {
        summary: 'Every declared source, its schedule, when it last backed up and passed a drill, and whether a worker serving it is online',
        access: 'superadmin',
        responses: { 200: { description: 'The sources, in the order SNAPKEEP_CONFIG declares them.', content: json('SourceList') }, 503: QUEUE_UNAVAILABLE },
      }) },
    },
  };
  const forSource = (op: JsonSchema): JsonSchema => {
    const responses = op.responses as Record<string, JsonSchema>;
    const notFound = responses['404'] ? `${String(responses['404'].description)} Or: ${SOURCE_NOT_FOUND}` : SOURCE_NOT_FOUND;
    return {
      ...op, tags: ['sources'], operationId: `${String(op.operationId)}OfSource`,
      parameters: [SOURCE_PARAMETER, ...((op.parameters as JsonSchema[] | undefined) ?? [])],
      responses: { ...responses, 404: error(notFound) },
    };
  };
  for (const [path, methods] of Object.entries(paths)) {
    if (!path.startsWith('/api/backups')) continue;
    const sourced = Object.fromEntries(Object.entries(methods).map(([method, op]) => [method, forSource(op)]));
    out[path.replace('/api/backups', '/api/sources/{name}/backups')] = sourced;
    if (path === '/api/backups/prune') out['/api/sources/{name}/prune'] = Object.fromEntries(Object.entries(sourced).map(([m, op]) => [m, { ...op, operationId: 'pruneSource' }]));
  }
  return out;
}

function buildBaseDocument(version: string): JsonSchema {
  return {
    openapi: '3.1.0',
    info: {
      title: 'snapkeep',
      version,
      description: 'Encrypted, scheduled, verified SQLite backups to S3-compatible storage. Every operation is a BullMQ job: '
        + 'a request answers 202 with a job id, and `GET /api/jobs/{jobId}` reports its state and progress. '
        + 'Errors are always `{"error": {"code", "message"}}`. This document itself needs no token.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    tags: [{ name: 'backups' }, { name: 'jobs' }, { name: 'operations' }],
    paths: {
      '/api/backups': {
        post: { tags: ['backups'], ...operation('createBackup', {
          summary: 'Take a backup now',
          description: 'While a backup job is already waiting or running, this joins it: 202 with that job and `deduplicated: true`.',
          access: 'superadmin', requestBody: 'CreateBackupRequest',
          responses: { 202: accepted, 400: BAD_BODY, 413: error('The body is too large.'), 503: BACKUPS_DISABLED },
        }) },
        get: { tags: ['backups'], ...operation('listBackups', {
          summary: 'List backups, newest first',
          access: 'superadmin',
          responses: {
            200: { description: 'Every backup in the store.', content: json('BackupList') },
            502: error('The store refused the credentials or the bucket is missing.'),
            503: BACKUPS_DISABLED,
          },
        }) },
      },
      '/api/backups/{id}/restore': {
        post: { tags: ['backups'], ...operation('restoreBackup', {
          summary: 'Restore a backup beside DB_PATH',
          description: 'The job writes `{DB_PATH}.restore.{id}` after verifying it; it never touches the live database.',
          access: 'superadmin', requestBody: 'RestoreRequest',
          parameters: BACKUP_ID_PARAMETER,
          responses: BACKUP_JOB_RESPONSES,
        }) },
      },
      '/api/backups/{id}/apply': {
        post: { tags: ['backups'], ...operation('applyBackup', {
          summary: 'Put a backup in place of the live data (`backup apply`)',
          description: 'The job runs on a worker with DB_PATH: it uses the verified `{DB_PATH}.restore.{id}` (checked again) or restores '
            + 'the backup first (an archive always afresh), refuses while a process has the database open unless the worker has '
            + '`APP_STOP_COMMAND`, keeps every replaced file as `{path}.pre-apply.{time}`, gives the restored database the live file\'s '
            + 'owner, group and mode and the recorded journal mode, then runs `APP_START_COMMAND`. A failure puts everything back. '
            + 'No command is ever taken from the request. The result (ApplyResult) lists the moves and how to undo them.',
          access: 'superadmin', requestBody: 'ApplyRequest',
          parameters: BACKUP_ID_PARAMETER,
          responses: BACKUP_JOB_RESPONSES,
        }) },
      },
      '/api/backups/{id}/verify': {
        post: { tags: ['backups'], ...operation('verifyBackup', {
          summary: 'Run a restore drill of a backup',
          description: 'The job downloads and decrypts the backup (its tag), checks the SQLite header and `PRAGMA integrity_check` '
            + '(an archive: every entry against its manifest) and compares the content fingerprint recorded at backup time, in '
            + 'STATE_DIR/tmp, writing nothing beside DB_PATH. Its result (VerifyResult) names the check that failed; the outcome '
            + 'appears in `GET /api/backups` and /metrics, and a failure sends `verify.failed`.',
          access: 'superadmin', requestBody: 'VerifyRequest',
          parameters: BACKUP_ID_PARAMETER,
          responses: BACKUP_JOB_RESPONSES,
        }) },
      },
      '/api/backups/{id}/accept': {
        post: { tags: ['backups'], ...operation('acceptAnomaly', {
          summary: 'Accept a backup flagged as an anomaly',
          description: 'Clears the flag (the database really did shrink): the retention policy decides again about the backup kept before it.',
          access: 'superadmin', requestBody: 'AcceptRequest',
          parameters: BACKUP_ID_PARAMETER,
          responses: {
            200: { description: 'The flag is cleared.', content: json('AcceptResult') },
            400: BACKUP_JOB_RESPONSES[400],
            409: error('The backup is not flagged (`not_flagged`).'),
            503: BACKUPS_DISABLED,
          },
        }) },
      },
      '/api/backups/prune': {
        post: { tags: ['backups'], ...operation('pruneBackups', {
          summary: 'Apply the retention policy',
          description: "The job's result is `{kept, deleted, dryRun}` (see PruneResult).",
          access: 'superadmin', requestBody: 'PruneRequest',
          responses: { 202: accepted, 400: BAD_BODY, 503: BACKUPS_DISABLED },
        }) },
      },
      '/api/jobs/{jobId}': {
        get: { tags: ['jobs'], ...operation('getJob', {
          summary: "A job's state, progress and result",
          access: 'any-token',
          parameters: [{ name: 'jobId', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9:_.-]{1,200}$' } }],
          responses: {
            200: { description: 'The job.', content: json('JobStatus') },
            400: error('Not a job id (`invalid_job_id`).'),
            404: error('No queue knows this job (`job_not_found`); finished jobs are kept for 7 days or 1,000 jobs.'),
            503: QUEUE_UNAVAILABLE,
          },
        }) },
      },
      '/api/health': {
        get: { tags: ['operations'], ...operation('getHealth', {
          summary: 'Reachability of Redis and the store, and when a restore drill last passed',
          description: 'Open to all; tells only up/down/disabled and the version.',
          access: 'public',
          responses: {
            200: { description: 'Redis is up and the store is up or disabled.', content: json('Health') },
            503: { description: 'Redis or a configured store is down.', content: json('Health') },
          },
        }) },
      },
      '/api/openapi.json': {
        get: { tags: ['operations'], ...operation('getOpenApi', {
          summary: 'This document',
          description: 'Open to all: it describes the API and holds nothing secret.',
          access: 'public',
          responses: { 200: { description: 'OpenAPI 3.1.', content: { 'application/json': { schema: { type: 'object' } } } } },
        }) },
      },
      '/metrics': {
        get: { tags: ['operations'], ...operation('getMetrics', {
          summary: 'Prometheus metrics',
          description: 'Backups, restores and prunes by outcome (counted by every worker, kept in Redis), durations and sizes, '
            + 'the time of the last successful backup and of the last good restore drill, failed drills, queue depths by state, '
            + 'and this process\'s default metrics. Any valid token.',
          access: 'any-token',
          responses: { 200: { description: 'Prometheus text exposition format 0.0.4.', content: { 'text/plain': { schema: { type: 'string' } } } } },
        }) },
      },
      '/admin/queues': {
        get: { tags: ['operations'], ...operation('getDashboard', {
          summary: 'Bull Board dashboard',
          description: 'Every queue (backup, restore, prune, verify, notify…) in a browser. HTTP Basic auth: any user name, a superadmin token as the '
            + 'password. Everything under /admin/queues/ (the UI\'s assets and its own JSON API) takes the same credentials.',
          access: 'dashboard',
          responses: { 200: { description: 'The dashboard page.', content: { 'text/html': { schema: { type: 'string' } } } } },
        }) },
      },
    },
    components: {
      schemas: SCHEMAS,
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'A token from `snapkeep token create`. `/api/backups…` needs the superadmin role; `/api/jobs` and `/metrics` take any role.' },
        basicAuth: { type: 'http', scheme: 'basic', description: 'The dashboard: any user name, a viewer token as the password (superadmin tokens are refused).' },
      },
    },
  };
}
