import {
  MAIN_CONVERSATION,
  useAgentSelector,
  useBlockIds,
  type ClientState,
  type UseAgentSessionResult,
} from '@agent-runtime/react';
import { useEffect, useLayoutEffect, useRef } from 'react';

import { formatDuration } from '../format';
import { UnanchoredRequests } from './approvals/Requests';
import { BlockView } from './blocks';
import { AlertIcon, SparkIcon, StopIcon } from './icons';

/** The main thread, scrolled to the newest content while the reader is at the bottom. */
export function Transcript({ sessionId, session }: { sessionId: string; session: UseAgentSessionResult }) {
  const ids = useBlockIds(sessionId);
  const scroller = useRef<HTMLDivElement>(null);
  const content = useRef<HTMLDivElement>(null);
  const pinned = useRef(true);

  // Follow the stream: whenever the content grows and the reader was at the bottom, stay there.
  useLayoutEffect(() => {
    const el = scroller.current;
    const inner = content.current;
    if (!el || !inner) return;
    const onScroll = () => {
      pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
    };
    const observer = new ResizeObserver(() => {
      if (pinned.current) el.scrollTop = el.scrollHeight;
    });
    observer.observe(inner);
    el.addEventListener('scroll', onScroll, { passive: true });
    el.scrollTop = el.scrollHeight;
    return () => {
      observer.disconnect();
      el.removeEventListener('scroll', onScroll);
    };
  }, []);
  useEffect(() => {
    // A message of our own always scrolls into view.
    if (ids.at(-1)?.startsWith('optimistic:') && scroller.current) {
      pinned.current = true;
      scroller.current.scrollTop = scroller.current.scrollHeight;
    }
  }, [ids]);

  // System notices alone (the demo label) do not make a conversation.
  const started = useAgentSelector(
    (s: ClientState) =>
      (s.sessions[sessionId]?.pending.length ?? 0) > 0 ||
      (s.sessions[sessionId]?.state?.blocks.some((b) => b.type !== 'system') ?? false),
  );
  return (
    <div className="transcript" ref={scroller} data-testid="transcript">
      <div className="transcript-content" ref={content}>
        {session.isLoading ? <div className="transcript-loading">Loading conversation…</div> : null}
        {ids.map((id) => (
          <BlockView key={id} sessionId={sessionId} blockId={id} conversationId={MAIN_CONVERSATION} />
        ))}
        {!started && !session.isLoading ? <EmptyConversation session={session} /> : null}
        <UnanchoredRequests sessionId={sessionId} />
        <TurnFooter sessionId={sessionId} session={session} />
      </div>
    </div>
  );
}

function EmptyConversation({ session }: { session: UseAgentSessionResult }) {
  const suggestions = session.demo
    ? ['create hello.txt', 'What can you do?', 'write notes.md with a short todo list']
    : ['Create hello.txt with a friendly greeting', 'Explain what is in this workspace', 'Write a Python script that prints the first 10 primes'];
  return (
    <div className="conversation-empty">
      <div className="conversation-empty-icon">
        <SparkIcon size={22} />
      </div>
      <h2>What should the agent do?</h2>
      <p>It works in its own sandbox with a fresh workspace. Files it writes appear on the right.</p>
      <div className="suggestions">
        {suggestions.map((text) => (
          <button type="button" key={text} className="suggestion" onClick={() => void session.sendMessage(text)}>
            {text}
          </button>
        ))}
      </div>
    </div>
  );
}

/** After the last block: a working indicator while the agent has nothing on screen yet, or how
 * the last turn ended when it did not simply complete. */
function TurnFooter({ sessionId, session }: { sessionId: string; session: UseAgentSessionResult }) {
  const lastIsOpen = useAgentSelector((s: ClientState) => lastBlockIsStreaming(s, sessionId));
  // Claude reports an interruption with a block of its own, shown in place.
  const endsWithInterruption = useAgentSelector((s: ClientState) => {
    const last = s.sessions[sessionId]?.state?.blocks.at(-1);
    return last?.type === 'system' && last.subtype === 'interrupted';
  });
  const { status, lastTurn, isStopping } = session;
  if (status === 'running' || status === 'submitted') {
    if (lastIsOpen && !isStopping) return null;
    return (
      <div className="working" data-testid="working">
        <span className="working-dots" aria-hidden="true">
          <i />
          <i />
          <i />
        </span>
        {isStopping ? 'Stopping…' : status === 'submitted' ? 'Sending…' : 'Working…'}
      </div>
    );
  }
  if (lastTurn?.reason === 'interrupted' && !endsWithInterruption) {
    return (
      <div className="turn-end interrupted" data-testid="turn-interrupted">
        <StopIcon size={12} /> Stopped · the turn was interrupted after {formatDuration(lastTurn.durationMs)}
      </div>
    );
  }
  if (lastTurn?.reason === 'error' || (status === 'error' && session.error)) {
    const error = lastTurn?.error;
    return (
      <div className="turn-end error" role="alert" data-testid="turn-error">
        <AlertIcon size={16} />
        <div>
          <strong>{error ? 'The turn failed' : 'Something went wrong'}</strong>
          <p>{error?.message ?? session.error?.message}</p>
          {error?.stderrTail ? <pre className="stderr">{error.stderrTail}</pre> : null}
        </div>
        <button type="button" className="link-button" onClick={session.clearError}>
          Dismiss
        </button>
      </div>
    );
  }
  return null;
}

/** The last block of the main thread is still being written (a turn runs and it is text or
 * thinking that has not been completed). */
function lastBlockIsStreaming(state: ClientState, sessionId: string): boolean {
  const view = state.sessions[sessionId];
  const s = view?.state;
  if (!s?.runtime.activeTurnId) return false;
  const last = s.blocks.at(-1);
  return last?.type === 'assistant_text' || last?.type === 'thinking' || (last?.type === 'tool_use' && last.status === 'pending');
}
