// The API key, when the server asks for one: kept in localStorage and read by the client's token
// getter before every request and connect.

import { useSyncExternalStore } from 'react';

const KEY = 'agent-runtime.apiKey';
const listeners = new Set<() => void>();

export function getApiKey(): string | null {
  try {
    return window.localStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function setApiKey(value: string | null): void {
  try {
    if (value) window.localStorage.setItem(KEY, value);
    else window.localStorage.removeItem(KEY);
  } catch {
    // Private mode: the key lives as long as the page.
  }
  listeners.forEach((listener) => listener());
}

export function useApiKey(): string | null {
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    getApiKey,
    () => null,
  );
}
