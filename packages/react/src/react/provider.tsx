// `AgentServiceProvider`: makes one `AgentClient` available to the hooks below it.

import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';

import { AgentClient, type AgentClientOptions } from '../client.js';

export const AgentClientContext = createContext<AgentClient | null>(null);

export interface AgentServiceProviderProps extends AgentClientOptions {
  /** Use this client instead of creating one (tests, or sharing one across roots). The
   * provider then neither connects nor disposes it unless `autoConnect` says so. */
  client?: AgentClient;
  /** The seed's name for `baseUrl`. */
  apiUrl?: string;
  /** Open the WebSocket on mount. Default true (watching a session connects anyway). */
  autoConnect?: boolean;
  children?: ReactNode;
}

/**
 * Provides an {@link AgentClient} to the hooks. Options are read once, on first render (like
 * `useState`'s initial value); pass `getToken` to supply a token that changes.
 */
export function AgentServiceProvider(props: AgentServiceProviderProps) {
  const { client: given, apiUrl, autoConnect = true, children, ...options } = props;
  const [client] = useState(
    () => given ?? new AgentClient({ ...options, baseUrl: options.baseUrl ?? apiUrl }),
  );
  useEffect(() => {
    if (autoConnect) client.connect();
    return () => {
      // A client we created dies with us; a given one belongs to the caller.
      if (!given) client.dispose();
    };
  }, [client, given, autoConnect]);
  return <AgentClientContext.Provider value={client}>{children}</AgentClientContext.Provider>;
}

/** The client of the nearest {@link AgentServiceProvider}. */
export function useAgentClient(): AgentClient {
  const client = useContext(AgentClientContext);
  if (!client) throw new Error('agent-runtime hooks must be used inside <AgentServiceProvider>');
  return client;
}
