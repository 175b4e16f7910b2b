// A tiny history router: `/` and `/sessions/:id`. The server answers every such path with
// index.html (SPA fallback), so reloads and shared links work.

import { useSyncExternalStore } from 'react';

export type Route = { name: 'home' } | { name: 'session'; sessionId: string };

const listeners = new Set<() => void>();

function notify() {
  listeners.forEach((listener) => listener());
}

if (typeof window !== 'undefined') window.addEventListener('popstate', notify);

export function parseRoute(pathname: string): Route {
  const match = /^\/sessions\/([^/]+)\/?$/.exec(pathname);
  if (match) return { name: 'session', sessionId: decodeURIComponent(match[1] as string) };
  return { name: 'home' };
}

export function routePath(route: Route): string {
  return route.name === 'session' ? `/sessions/${encodeURIComponent(route.sessionId)}` : '/';
}

export function navigate(route: Route, options: { replace?: boolean } = {}): void {
  const path = routePath(route);
  if (path === window.location.pathname) return;
  if (options.replace) window.history.replaceState(null, '', path);
  else window.history.pushState(null, '', path);
  notify();
}

export function useRoute(): Route {
  const path = useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    () => window.location.pathname,
    () => '/',
  );
  return parseRoute(path);
}
