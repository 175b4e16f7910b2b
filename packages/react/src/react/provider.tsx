// `AgentServiceProvider`: makes one `AgentClient` available to the hooks below it.

import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';

import { AgentClient, type AgentClientOptions } from '../client.js';

export const AgentClientContext = createContext<AgentClient | null>(null);

/** The seed's `config` prop: `{ apiUrl, wsUrl, apiKey }` (`wsUrl` may be just an origin such as
 * `ws://localhost:3000`), or any other client option. */
export interface AgentServiceConfig extends AgentClientOptions {
  /** The seed's name for `baseUrl`. */
  apiUrl?: string;
}

export interface AgentServiceProviderProps extends AgentClientOptions {
  /** Use this client instead of creating one (tests, or sharing one across roots). The
   * provider then neither connects nor disposes it unless `autoConnect` says so. */
  client?: AgentClient;
  /** The seed's name for `baseUrl`. */
  apiUrl?: string;
  /** The options as one object, as the seed passes them; props given beside it win. */
  config?: AgentServiceConfig;
  /** Open the WebSocket on mount. Default true (watching a session connects anyway). */
  autoConnect?: boolean;
  children?: ReactNode;
}

/**
 * Provides an {@link AgentClient} to the hooks. Options are read once, on first render (like
 * `useState`'s initial value); pass `getToken` to supply a token that changes.
 */
export function AgentServiceProvider(props: AgentServiceProviderProps) {
  const { client: given, apiUrl, config, autoConnect = true, children, ...flat } = props;
  const [client] = useState(() => given ?? new AgentClient(clientOptions(config, flat, apiUrl)));
  useEffect(() => {
    if (autoConnect) client.connect();
    return () => {
      // A client we created dies with us; a given one belongs to the caller.
      if (!given) client.dispose();
    };
  }, [client, given, autoConnect]);
  return <AgentClientContext.Provider value={client}>{children}</AgentClientContext.Provider>;
}

/** One set of client options from the `config` object and the flat props (which win). */
export function clientOptions(
  config: AgentServiceConfig | undefined,
  flat: AgentClientOptions,
  apiUrl: string | undefined,
): AgentClientOptions {
  const { apiUrl: configApiUrl, ...fromConfig } = config ?? {};
  const merged: AgentClientOptions = { ...fromConfig };
  for (const [key, value] of Object.entries(flat)) {
    if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
  }
  merged.baseUrl = flat.baseUrl ?? apiUrl ?? fromConfig.baseUrl ?? configApiUrl;
  return merged;
}

/** The client of the nearest {@link AgentServiceProvider}. */
export function useAgentClient(): AgentClient {
  const client = useContext(AgentClientContext);
  if (!client) throw new Error('agent-runtime hooks must be used inside <AgentServiceProvider>');
  return client;
}
