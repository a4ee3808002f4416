import type { Router } from 'express';

export interface KnownRoute {
  /** The route template as registered, e.g. `/users/:username`. */
  path: string;
  /** Upper-case methods the route answers (HEAD is not implied by GET: see createHttpApp). */
  methods: string[];
  pattern: RegExp;
}

interface LayerLike {
  route?: { path?: unknown; methods?: Record<string, boolean> };
  handle?: { stack?: LayerLike[] };
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `/users/:username` → /^\/users\/[^/]+\/?$/ — our routes use plain segments and `:name` params only. */
function templatePattern(path: string): RegExp {
  const source = path
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : escapeRegExp(segment)))
    .join('/');
  return new RegExp(`^${source}/?$`, 'i');
}

/**
 * The routes a service's router registers (nested routers mounted at `/` included), merged by
 * template. Used for 405 + Allow and for the `route` label of requests that never reached a route
 * handler (401, malformed JSON): a known template, never the raw path.
 */
export function collectKnownRoutes(router: Router): KnownRoute[] {
  const byPath = new Map<string, Set<string>>();
  const visit = (stack: LayerLike[] | undefined, depth: number) => {
    if (!stack || depth > 5) return;
    for (const layer of stack) {
      const path = layer.route?.path;
      if (typeof path === 'string') {
        const methods = byPath.get(path) ?? new Set<string>();
        for (const [method, on] of Object.entries(layer.route?.methods ?? {}))
          if (on && method !== '_all') methods.add(method.toUpperCase());
        byPath.set(path, methods);
      } else {
        visit(layer.handle?.stack, depth + 1);
      }
    }
  };
  visit((router as unknown as { stack?: LayerLike[] }).stack, 0);
  return [...byPath].map(([path, methods]) => ({
    path,
    methods: [...methods],
    pattern: templatePattern(path),
  }));
}

export function matchKnownRoute(routes: readonly KnownRoute[], path: string): KnownRoute | undefined {
  return routes.find((route) => route.pattern.test(path));
}
