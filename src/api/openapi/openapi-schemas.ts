/**
 * The OpenAPI component schemas: JSON Schema 2020-12, as OpenAPI 3.1 uses it, so a client (or a
 * test, with ajv) validates answers with a stock JSON Schema validator. Envelopes are closed
 * (additionalProperties: false) so a leaked field shows up; job results are open, because a newer
 * worker may add fields that older clients must ignore.
 */
/** JsonSchema is a JSON Schema object, kept loose: the document is data, checked by ajv in the tests. */
export type JsonSchema = { [keyword: string]: unknown };

const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const nullable = (type: string, extra: JsonSchema = {}): JsonSchema => ({ type: [type, 'null'], ...extra });
const dateTime: JsonSchema = { type: 'string', format: 'date-time' };

/** BACKUP_ID_PATTERN is the backup-id shape, `YYYYMMDDTHHMMSSZ-xxxxxxxx`, as a JSON Schema pattern. */
export const BACKUP_ID_PATTERN = '^\\d{8}T\\d{6}Z-[0-9a-f]{8}$';

const VERIFY_CHECKS = ['download', 'decrypt', 'origin', 'archive-entries', 'sqlite-header', 'integrity_check', 'fingerprint'];

/** SCHEMAS are the document's `components.schemas`, by name. */
/** A source's name (SNAPKEEP_CONFIG), as a JSON Schema pattern. */
export const SOURCE_NAME_PATTERN = '^[a-z0-9][a-z0-9-]{0,39}$';

export const SCHEMAS: Record<string, JsonSchema> = {
  Error: {
    type: 'object',
    description: 'Every error answer. `code` is stable and machine-readable; `message` is for people and never holds a secret.',
    required: ['error'],
    additionalProperties: false,
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        additionalProperties: false,
        properties: {
          code: { type: 'string', examples: ['unauthorized', 'forbidden', 'backup_not_found', 'backups_disabled', 'invalid_request'] },
          message: { type: 'string' },
        },
      },
    },
  },
  Accepted: {
    type: 'object',
    description: 'A job was enqueued (or joined): poll `statusUrl`.',
    required: ['jobId', 'statusUrl'],
    additionalProperties: false,
    properties: {
      jobId: { type: 'string' },
      statusUrl: { type: 'string', pattern: '^/api/jobs/' },
      deduplicated: { type: 'boolean', description: 'Backups only: true when this request joined a backup already waiting or running.' },
    },
  },
  CreateBackupRequest: {
    type: 'object',
    additionalProperties: false,
    description: 'Send `{}` or no body for a backup under the master key (or BACKUP_AGE_RECIPIENTS).',
    properties: {
      passphrase: { type: 'string', minLength: 1, maxLength: 1024, description: 'Lock this backup with a passphrase: an age archive (`{id}.tar.age`) that `age -d` opens. Sealed for the live workers before it reaches Redis; 503 `no_worker` when none runs.' },
    },
  },
  RestoreRequest: {
    type: 'object',
    additionalProperties: false,
    properties: {
      force: { type: 'boolean', description: 'Replace an existing `{DB_PATH}.restore.{id}`.' },
      passphrase: { type: 'string', minLength: 1, maxLength: 1024, description: 'The passphrase of a passphrase backup, sealed like CreateBackupRequest\'s.' },
    },
  },
  ApplyRequest: {
    type: 'object',
    additionalProperties: false,
    description: 'Send `{}` or no body. There is no command field: the worker runs only its own APP_STOP_COMMAND and APP_START_COMMAND.',
    properties: {
      passphrase: { type: 'string', minLength: 1, maxLength: 1024, description: 'The passphrase of a passphrase backup, sealed like CreateBackupRequest\'s.' },
    },
  },
  VerifyRequest: {
    type: 'object',
    additionalProperties: false,
    description: 'Send `{}` or no body.',
    properties: {
      passphrase: { type: 'string', minLength: 1, maxLength: 1024, description: 'The passphrase of a passphrase backup, sealed like CreateBackupRequest\'s.' },
    },
  },
  AcceptRequest: { type: 'object', additionalProperties: false, description: 'Send `{}` or no body.', properties: {} },
  AcceptResult: {
    type: 'object',
    required: ['backupId', 'accepted'],
    additionalProperties: false,
    properties: { backupId: { type: 'string', pattern: BACKUP_ID_PATTERN }, accepted: { const: true } },
  },
  PruneRequest: {
    type: 'object',
    required: ['dryRun'],
    additionalProperties: false,
    properties: {
      dryRun: { type: 'boolean', description: 'Required. true: plan only, the result says what would be deleted; false: delete.' },
      force: { type: 'boolean', description: 'Prune even when no backup falls in any retention window.' },
    },
  },
  Backup: {
    type: 'object',
    required: ['id', 'createdAt', 'size', 'key'],
    additionalProperties: false,
    properties: {
      id: { type: 'string', pattern: BACKUP_ID_PATTERN },
      createdAt: dateTime,
      size: { type: 'integer', minimum: 0, description: 'Stored (encrypted) size in bytes.' },
      key: { type: 'string', description: 'Where the object is: its full key in the bucket, BACKUP_S3_PREFIX included (`backups/20261122T020000Z-1a2b3c4d.crbu`, for `aws s3 cp s3://BUCKET/KEY`); with BACKUP_LOCAL_DIR, its file name in that directory.' },
      kind: { enum: ['database', 'archive'] },
      encryption: { enum: ['master-key', 'passphrase', 'public-key', 'unknown'], description: '`unknown` when its metadata could not be read; `error` says why.' },
      future: { const: true, description: 'Present when its time lies more than five minutes after the server\'s clock (a skewed clock, or a planted name): never counted as the newest backup, never deleted by a prune.' },
      error: { type: 'string', description: 'Present when its metadata could not be read (a damaged sidecar or object metadata), naming the file or key; a prune never deletes it.' },
      verified: { type: 'boolean', description: 'The outcome of its last restore drill; absent when it has never been verified (or Redis is unreachable).' },
      verifiedAt: { ...dateTime, description: 'When its last restore drill ran.' },
      anomaly: {
        type: 'object',
        required: ['reason', 'flaggedAt', 'previousId'],
        additionalProperties: false,
        description: 'Present while it is flagged as an anomaly (the database shrank, a table lost rows or disappeared): every prune keeps `previousId` until `POST /api/backups/{id}/accept`.',
        properties: {
          reason: { type: 'string' },
          flaggedAt: dateTime,
          previousId: { type: 'string', pattern: BACKUP_ID_PATTERN, description: 'The backup it was compared with.' },
        },
      },
    },
  },
  BackupList: {
    type: 'object',
    required: ['source', 'backups'],
    additionalProperties: false,
    properties: {
      source: { type: 'string', pattern: SOURCE_NAME_PATTERN, description: 'The source listed (`default` without SNAPKEEP_CONFIG).' },
      backups: { type: 'array', items: ref('Backup'), description: 'Newest first; future-dated backups (`future: true`) after all the others.' },
    },
  },
  SourceList: {
    type: 'object',
    required: ['sources'],
    additionalProperties: false,
    properties: {
      sources: {
        type: 'array',
        items: {
          type: 'object',
          required: ['name', 'host', 'kind', 'schedule', 'lastBackupAt', 'lastVerifiedAt', 'workerOnline'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', pattern: SOURCE_NAME_PATTERN },
            host: { ...nullable('string'), description: 'The worker (SNAPKEEP_HOST) that has its files; null: any worker may serve it.' },
            kind: { enum: ['database', 'archive'] },
            schedule: {
              anyOf: [
                { type: 'object', required: ['hours'], additionalProperties: false, properties: { hours: { type: 'number' } } },
                { type: 'object', required: ['cron', 'tz'], additionalProperties: false, properties: { cron: { type: 'string' }, tz: { type: 'string' } } },
                { type: 'object', required: ['off'], additionalProperties: false, properties: { off: { const: true } } },
              ],
            },
            lastBackupAt: { ...nullable('string', { format: 'date-time' }), description: 'From the workers\' signed records in Redis.' },
            lastVerifiedAt: { ...nullable('string', { format: 'date-time' }), description: 'When a restore drill of it last passed.' },
            workerOnline: { type: 'boolean', description: 'A live worker announces (signed heartbeat) that it serves this source; a pinned source\'s jobs wait until one does.' },
          },
        },
      },
    },
  },
  JobProgress: {
    type: 'object',
    required: ['phase', 'percent', 'bytesDone', 'bytesTotal'],
    properties: {
      phase: { enum: ['snapshot', 'upload', 'download', 'verify', 'prune', 'apply'] },
      percent: { type: 'number', minimum: 0, maximum: 100 },
      bytesDone: { type: 'integer', minimum: 0 },
      bytesTotal: { type: 'integer', minimum: 0 },
    },
  },
  BackupResult: {
    type: 'object',
    required: ['backupId', 'key', 'size', 'createdAt', 'durationMs'],
    properties: {
      backupId: { type: 'string', pattern: BACKUP_ID_PATTERN },
      key: { type: 'string', description: 'Where the object is, the same key `GET /api/backups` lists: its full key in the bucket, BACKUP_S3_PREFIX included (`backups/20261122T020000Z-1a2b3c4d.crbu`, for `aws s3 cp s3://BUCKET/KEY`); with BACKUP_LOCAL_DIR, its file name in that directory.' },
      size: { type: 'integer', minimum: 0 },
      databaseSize: { type: 'integer', minimum: 0 },
      createdAt: dateTime,
      durationMs: { type: 'integer', minimum: 0 },
      kind: { type: 'string', examples: ['database', 'archive'] },
      encryption: { type: 'string', examples: ['master-key', 'passphrase', 'public-key'] },
      compression: { enum: ['none', 'zstd'], description: 'zstd before encryption (BACKUP_COMPRESSION): CRBU version 3 (database) or 4 (archive), or `.zst.age`.' },
    },
  },
  RestoreResult: {
    type: 'object',
    required: ['backupId', 'path', 'durationMs'],
    properties: {
      backupId: { type: 'string', pattern: BACKUP_ID_PATTERN },
      path: { type: 'string', description: 'Where the verified restore was written, beside DB_PATH.' },
      size: { type: 'integer', minimum: 0 },
      durationMs: { type: 'integer', minimum: 0 },
      keyIndex: { type: 'integer', minimum: 0, description: '0: MASTER_KEY opened it; n: the nth of MASTER_KEY_PREVIOUS. Absent for age backups.' },
      journalMode: { type: 'string', examples: ['wal', 'delete'], description: 'The live database\'s journal mode when the backup was taken, given to the restored file. Absent for backups made before it was recorded.' },
      origin: { enum: ['verified', 'unverified'], description: 'Archives: `verified` when a master key proved who made it; `unverified` only for a CLI restore with --trust-unverified.' },
      archive: {
        type: 'object',
        description: 'Archives only: `path` is the new directory; what to move where, in the safe order.',
        properties: {
          files: { type: 'integer', minimum: 0 },
          moves: { type: 'array', items: { type: 'object', properties: { from: { type: 'string' }, to: { type: 'string' }, group: { type: 'string' } } } },
          skipped: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, reason: { type: 'string' } } } },
        },
      },
    },
  },
  ApplyResult: {
    type: 'object',
    required: ['backupId', 'kind', 'source', 'restored', 'moves', 'undo', 'database'],
    description: 'What an apply did. `moves` in the order made: `aside` keeps a live path as `{path}.pre-apply.{time}`, `into place` puts a restored one where it belongs.',
    properties: {
      backupId: { type: 'string', pattern: BACKUP_ID_PATTERN },
      kind: { type: 'string', examples: ['database', 'archive'] },
      source: { type: 'string', description: 'The verified restore put in place: `{DB_PATH}.restore.{id}`, or the archive\'s restore directory.' },
      restored: { type: 'boolean', description: 'True when the apply restored the backup itself.' },
      moves: {
        type: 'array',
        items: { type: 'object', required: ['from', 'to', 'role'], properties: { from: { type: 'string' }, to: { type: 'string' }, role: { enum: ['aside', 'into place'] }, copied: { type: 'boolean' } } },
      },
      undo: { type: 'array', items: { type: 'string' }, description: 'Shell lines that undo the moves, in order, with the application stopped.' },
      commands: { type: 'object', properties: { stop: { type: 'string' }, start: { type: 'string' } } },
      stopped: { type: 'array', items: { type: 'object', properties: { pid: { type: 'integer' }, command: { type: 'string' } } }, description: 'Processes that had the database open when the stop command ran.' },
      database: {
        type: 'object',
        required: ['path', 'uid', 'gid', 'mode', 'journalMode'],
        properties: { path: { type: 'string' }, uid: { type: 'integer' }, gid: { type: 'integer' }, mode: { type: 'string', pattern: '^[0-7]{4}$' }, journalMode: { type: 'string' } },
      },
      durationMs: { type: 'integer', minimum: 0 },
    },
  },
  VerifyResult: {
    type: 'object',
    required: ['verifications', 'verified'],
    description: 'A restore drill: one verification per backup drilled (the schedule drills the newest and one older backup).',
    properties: {
      verified: { type: 'boolean', description: 'True when every verification passed.' },
      skippedReason: { type: 'string' },
      verifications: {
        type: 'array',
        items: {
          type: 'object',
          required: ['backupId', 'verified', 'verifiedAt', 'checks'],
          properties: {
            backupId: { type: 'string', pattern: BACKUP_ID_PATTERN },
            verified: { type: 'boolean' },
            verifiedAt: dateTime,
            durationMs: { type: 'integer', minimum: 0 },
            failedCheck: { enum: VERIFY_CHECKS, description: 'The check that failed, when verified is false.' },
            reason: { type: 'string' },
            checks: {
              type: 'array',
              items: {
                type: 'object',
                required: ['check', 'outcome'],
                properties: { check: { enum: VERIFY_CHECKS }, outcome: { enum: ['passed', 'failed', 'skipped'] }, detail: { type: 'string' } },
              },
            },
          },
        },
      },
    },
  },
  NotifyResult: {
    type: 'object',
    required: ['target', 'status'],
    description: 'A notification delivered: the target (a webhook by the hash of its URL, or `healthchecks`) and the HTTP status it answered.',
    properties: { target: { type: 'string' }, status: { type: 'integer' } },
  },
  PruneResult: {
    type: 'object',
    required: ['kept', 'deleted', 'dryRun'],
    properties: {
      kept: { type: 'array', items: { type: 'string' } },
      deleted: { type: 'array', items: { type: 'string' } },
      dryRun: { type: 'boolean' },
      reasons: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
      skippedReason: { type: 'string' },
    },
  },
  JobStatus: {
    type: 'object',
    required: ['id', 'queue', 'source', 'name', 'state', 'progress', 'attemptsMade', 'maxAttempts', 'result', 'failedReason', 'createdAt', 'startedAt', 'finishedAt'],
    additionalProperties: false,
    properties: {
      id: { type: 'string' },
      queue: { type: 'string', pattern: '^(backup|restore|prune|apply|verify|notify)(@[A-Za-z0-9][A-Za-z0-9_.-]{0,62})?$', description: 'The job type, with `@host` for a source pinned to one worker.' },
      source: { type: 'string', pattern: SOURCE_NAME_PATTERN, description: 'The source the job is for.' },
      name: { type: 'string' },
      state: { enum: ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed', 'unknown'] },
      progress: { anyOf: [ref('JobProgress'), { type: 'null' }] },
      attemptsMade: { type: 'integer', minimum: 0 },
      maxAttempts: { type: 'integer', minimum: 1 },
      result: { anyOf: [ref('BackupResult'), ref('RestoreResult'), ref('PruneResult'), ref('ApplyResult'), ref('VerifyResult'), ref('NotifyResult'), { type: 'null' }], description: 'Set once the job completed.' },
      failedReason: nullable('string'),
      createdAt: nullable('string', { format: 'date-time' }),
      startedAt: nullable('string', { format: 'date-time' }),
      finishedAt: nullable('string', { format: 'date-time' }),
    },
  },
  Health: {
    type: 'object',
    required: ['status', 'redis', 'storage', 'lastGoodDrillAt', 'version'],
    additionalProperties: false,
    description: 'Reachability only: never a host, a key or a token.',
    properties: {
      status: { enum: ['ok', 'degraded'] },
      redis: { enum: ['up', 'down'] },
      storage: { enum: ['up', 'down', 'disabled'] },
      lastGoodDrillAt: { ...nullable('string', { format: 'date-time' }), description: 'When a restore drill last verified a backup; null when none has.' },
      version: { type: 'string' },
    },
  },
};
