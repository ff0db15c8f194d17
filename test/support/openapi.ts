/**
 * Checks responses against the app's OpenAPI document with ajv (JSON Schema 2020-12, which OpenAPI 3.1
 * uses). A response whose path, method or status the document lacks fails, as does a body off its schema.
 */
import assert from 'node:assert/strict';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { Response } from 'supertest';
import { buildOpenApiDocument } from '../../src/http/openapi.js';

const document = buildOpenApiDocument() as { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>> };
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
ajv.addSchema(document, 'openapi');

const pointer = (...parts: string[]) => parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

/** `path` is the document's template, e.g. `/admin/customers/{id}`. */
export function assertMatchesOpenApi(res: Response, path: string, method: string): void {
  const operation = document.paths[path]?.[method.toLowerCase()];
  assert.ok(operation, `${method.toUpperCase()} ${path} is documented`);
  const response = operation.responses[String(res.status)];
  assert.ok(response, `${method.toUpperCase()} ${path} documents status ${res.status}`);
  const type = String(res.headers['content-type'] ?? '').split(';')[0]!.trim();
  if (!response.content) return;
  assert.ok(response.content[type], `${method.toUpperCase()} ${path} ${res.status} documents content type ${type}`);
  if (type !== 'application/json') return;
  const validate = ajv.getSchema(`openapi#/${pointer('paths', path, method.toLowerCase(), 'responses', String(res.status), 'content', type, 'schema')}`);
  assert.ok(validate, 'schema compiles');
  const ok = validate(res.body);
  assert.ok(ok, `${method.toUpperCase()} ${path} ${res.status} body matches its schema: ${ajv.errorsText(validate.errors)}`);
}

export { document as openApiDocument };
