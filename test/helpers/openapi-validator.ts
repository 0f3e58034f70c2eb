import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';

/** OpenApiDocument is the slice of an OpenAPI 3.1 document the validator reads. */
export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, {
    security?: Array<Record<string, string[]>>;
    'x-snapkeep-role'?: string;
    responses: Record<string, { content?: Record<string, { schema?: object }> }>;
  }>>;
  components: { schemas: Record<string, object>; securitySchemes: Record<string, { type: string; scheme?: string }> };
}

/** LiveResponse is what a live answer looked like. */
export interface LiveResponse {
  method: string;
  /** The request path, e.g. `/api/jobs/backup-1`; matched against the document's templates. */
  path: string;
  status: number;
  contentType: string | null;
  body: unknown;
}

/**
 * OpenApiValidator checks live answers against the document: it finds the operation by path
 * template and method, the response by status, and validates the JSON body with ajv (strict, JSON
 * Schema 2020-12 as OpenAPI 3.1 uses it).
 */
export class OpenApiValidator {
  private readonly ajv = new Ajv2020({ strict: true, allErrors: true });
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(readonly document: OpenApiDocument) {
    this.ajv.addFormat('date-time', { type: 'string', validate: (s: string) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(s) && !Number.isNaN(Date.parse(s)) });
    // The document is registered whole so `#/components/schemas/…` references resolve inside it.
    this.ajv.addKeyword({ keyword: 'components' });
    this.ajv.addSchema({ $id: 'openapi.json', components: { schemas: document.components.schemas } });
  }

  /** compileAll compiles every component schema, so a typo in a keyword fails in strict mode. */
  compileAll(): void {
    for (const name of Object.keys(this.document.components.schemas)) this.ajv.compile({ $ref: `openapi.json#/components/schemas/${name}` });
  }

  /** templateFor finds the documented path template that a concrete path matches. */
  templateFor(path: string): string | undefined {
    const bare = path.split('?')[0]!;
    return Object.keys(this.document.paths).find((template) =>
      new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`).test(bare));
  }

  /** problems lists why a live answer does not match the document; empty when it does. */
  problems(live: LiveResponse): string[] {
    const template = this.templateFor(live.path);
    if (!template) return [`${live.path} is not in the document`];
    const operation = this.document.paths[template]![live.method.toLowerCase()];
    if (!operation) return [`${live.method} ${template} is not in the document`];
    const response = operation.responses[String(live.status)];
    if (!response) return [`${live.method} ${template} does not document status ${live.status}`];
    const mediaType = (live.contentType ?? '').split(';')[0]!.trim();
    const content = response.content?.[mediaType];
    if (!content) return [`${live.method} ${template} ${live.status} does not document ${mediaType || 'an empty body'}`];
    if (mediaType !== 'application/json' || !content.schema) return [];
    const validate = this.validatorFor(content.schema);
    if (validate(live.body)) return [];
    return (validate.errors ?? []).map((e) => `${live.method} ${live.path} ${live.status}: ${e.instancePath || '/'} ${e.message ?? ''}`);
  }

  private validatorFor(schema: object): ValidateFunction {
    const key = JSON.stringify(schema);
    let validate = this.compiled.get(key);
    if (!validate) {
      // Response schemas are `$ref`s into the document: point them at its registered id.
      validate = this.ajv.compile(JSON.parse(key.replace(/"#\/components\//g, '"openapi.json#/components/')) as object);
      this.compiled.set(key, validate);
    }
    return validate;
  }
}

/**
 * fetchAndCheck fetches a URL, parses a JSON body, and returns the answer with the document's
 * verdict on it, so each test can both assert on the body and on its schema.
 */
export async function fetchAndCheck(validator: OpenApiValidator, base: string, path: string, init: RequestInit = {}): Promise<{ status: number; body: unknown; headers: Headers; problems: string[] }> {
  const res = await fetch(`${base}${path}`, init);
  const contentType = res.headers.get('content-type');
  const text = await res.text();
  const body: unknown = contentType?.startsWith('application/json') ? JSON.parse(text) : text;
  const problems = validator.problems({ method: init.method ?? 'GET', path, status: res.status, contentType, body });
  return { status: res.status, body, headers: res.headers, problems };
}
