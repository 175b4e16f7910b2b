import { AgentServiceProvider, useAgents, useHealth, useSessionList } from '@agent-runtime/react';
import { useCallback, useState } from 'react';

import { getApiKey } from './auth';
import { ApiKeyDialog } from './components/ApiKeyDialog';
import { DemoBanner } from './components/DemoBanner';
import { Home } from './components/Home';
import { NewSessionDialog } from './components/NewSessionDialog';
import { SessionView } from './components/SessionView';
import { Sidebar } from './components/Sidebar';
import { navigate, useRoute } from './router';

export function App() {
  return (
    <AgentServiceProvider getToken={getApiKey}>
      <Shell />
    </AgentServiceProvider>
  );
}

function Shell() {
  const route = useRoute();
  const { health } = useHealth();
  // Loaded once here: the session list and headers name each session's agent (`useAgentLabel`).
  useAgents();
  const list = useSessionList();
  const [creating, setCreating] = useState(false);
  const needsKey = list.error?.code === 'unauthorized';
  const openSession = useCallback((sessionId: string) => navigate({ name: 'session', sessionId }), []);
  const sessionId = route.name === 'session' ? route.sessionId : null;

  return (
    <div className="app">
      <Sidebar activeSessionId={sessionId} onNewSession={() => setCreating(true)} onOpen={openSession} />
      <main className="main">
        {health?.demo ? <DemoBanner /> : null}
        {sessionId ? (
          <SessionView key={sessionId} sessionId={sessionId} />
        ) : (
          <Home onNewSession={() => setCreating(true)} />
        )}
      </main>
      {creating ? (
        <NewSessionDialog
          onClose={() => setCreating(false)}
          onCreated={(id) => {
            setCreating(false);
            openSession(id);
          }}
        />
      ) : null}
      {needsKey ? <ApiKeyDialog /> : null}
    </div>
  );
}
