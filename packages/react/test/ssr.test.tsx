// @vitest-environment node
// Server rendering: importing the package and rendering with its hooks touches no browser API
// and opens no connection.

import { renderToString } from 'react-dom/server';
import { describe, expect, it } from 'vitest';

import { AgentServiceProvider, useAgentSession, useConnection, useMessages } from '../src/index.js';

function Chat() {
  const session = useAgentSession('s1');
  const { blocks } = useMessages('s1');
  const connection = useConnection();
  return (
    <p>
      {session.status} {blocks.length} {connection.state}
    </p>
  );
}

describe('server rendering', () => {
  it('renders without window, document or WebSocket', () => {
    expect(typeof window).toBe('undefined');
    const html = renderToString(
      <AgentServiceProvider baseUrl="http://localhost:8080">
        <Chat />
      </AgentServiceProvider>,
    );
    expect(html).toBe('<p>idle<!-- --> <!-- -->0<!-- --> <!-- -->closed</p>');
  });
});
