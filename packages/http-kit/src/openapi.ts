import { OpenAPIRegistry, OpenApiGeneratorV3 } from '@asteasolutions/zod-to-openapi';
import { ErrorResponseSchema, HealthResponseSchema } from '@workemon/contracts';
import type { z } from 'zod';

export interface RouteDoc {
  method: 'get' | 'post' | 'put' | 'delete';
  path: string;
  summary: string;
  description?: string;
  /** Query parameters for GET, JSON body otherwise. */
  input?: z.ZodObject;
  /** Path parameters, e.g. `{username}` in `/users/{username}`. */
  params?: z.ZodObject;
  body?: z.ZodType;
  output: z.ZodType;
  secured?: boolean;
  statuses?: number[];
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Неверные параметры запроса',
  401: 'Missing or invalid bearer token',
  413: 'Request text too large',
  500: 'Внутренняя ошибка сервера',
  502: 'Upstream returned an invalid answer',
  503: 'Upstream unavailable or not configured',
  504: 'Upstream timed out',
};

/** Generates the OpenAPI 3 document from the same zod schemas the routes validate with. */
/** The generated document; typed loosely so declaration files need no openapi3-ts reference. */
export type OpenApiDocument = {
  info: { title: string; version: string };
  paths?: Record<string, unknown>;
} & Record<string, unknown>;

export function buildOpenApiDocument(
  info: { title: string; version: string; description?: string },
  routes: RouteDoc[],
): OpenApiDocument {
  const registry = new OpenAPIRegistry();
  const bearer = registry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
  });
  const errorContent = { 'application/json': { schema: ErrorResponseSchema } };
  for (const route of routes) {
    const statuses = route.statuses ?? [400, 500];
    const responses: Record<
      string,
      { description: string; content?: Record<string, { schema: z.ZodType }> }
    > = {
      200: { description: 'OK', content: { 'application/json': { schema: route.output } } },
    };
    for (const s of [...statuses, ...(route.secured ? [401] : [])]) {
      responses[s] = { description: ERROR_DESCRIPTIONS[s] ?? 'Error', content: errorContent };
    }
    const bodySchema = route.body ?? (route.method !== 'get' ? route.input : undefined);
    registry.registerPath({
      method: route.method,
      path: route.path,
      summary: route.summary,
      ...(route.description ? { description: route.description } : {}),
      ...(route.secured ? { security: [{ [bearer.name]: [] }] } : {}),
      request: {
        ...(route.params ? { params: route.params } : {}),
        ...(route.method === 'get' && route.input ? { query: route.input } : {}),
        ...(bodySchema ? { body: { content: { 'application/json': { schema: bodySchema } } } } : {}),
      },
      responses,
    });
  }
  registry.registerPath({
    method: 'get',
    path: '/health',
    summary: 'Service health with per-dependency checks',
    responses: {
      200: {
        description: 'ok or degraded',
        content: { 'application/json': { schema: HealthResponseSchema } },
      },
      503: { description: 'down', content: { 'application/json': { schema: HealthResponseSchema } } },
    },
  });
  const document = new OpenApiGeneratorV3(registry.definitions).generateDocument({
    openapi: '3.0.3',
    info: {
      title: info.title,
      version: info.version,
      ...(info.description ? { description: info.description } : {}),
    },
  });
  return document as unknown as OpenApiDocument;
}
