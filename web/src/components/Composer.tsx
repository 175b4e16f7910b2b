import type { UseAgentSessionResult } from '@agent-runtime/react';
import { useLayoutEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';

import { ArrowUpIcon, StopIcon } from './icons';

const NAME_FROM_MESSAGE_CHARS = 60;

export function Composer({ session }: { session: UseAgentSessionResult }) {
  const [text, setText] = useState('');
  const input = useRef<HTMLTextAreaElement>(null);
  // Waiting for an answer is still a running turn (Stop ends it); a reached budget is not.
  const waiting = session.status === 'requires_action';
  const running = session.status === 'running' || session.status === 'submitted' || (waiting && session.activeTurnId !== null);

  useLayoutEffect(() => {
    const el = input.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight, 220)}px`;
  }, [text]);

  async function send(event?: FormEvent) {
    event?.preventDefault();
    const message = text.trim();
    if (!message || running) return;
    setText('');
    const unnamed = !session.session?.name;
    const sent = await session.sendMessage(message);
    if (sent && unnamed) {
      // Like a chat app: an unnamed session is named after its first message.
      const name = message.replace(/\s+/g, ' ').slice(0, NAME_FROM_MESSAGE_CHARS);
      void session.rename(name.length < message.length ? `${name.trimEnd()}…` : name).catch(() => {});
    }
  }

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      void send();
    }
  }

  return (
    <form className="composer" onSubmit={send}>
      <div className={`composer-box${running ? ' running' : ''}`}>
        <textarea
          ref={input}
          rows={1}
          value={text}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={onKeyDown}
          placeholder={
            waiting
              ? session.activeTurnId
                ? 'The agent waits for your answer above'
                : 'Messages wait until the budget lets the agent go on'
              : running
                ? 'The agent is working… you can stop it'
                : 'Ask the agent to do something'
          }
          aria-label="Message"
          data-testid="composer-input"
        />
        {running ? (
          <button
            type="button"
            className="composer-button stop"
            onClick={() => void session.stop()}
            disabled={session.isStopping}
            title="Stop the agent (interrupts the turn on the server)"
            data-testid="stop"
          >
            <StopIcon size={16} />
            <span>{session.isStopping ? 'Stopping…' : 'Stop'}</span>
          </button>
        ) : (
          <button type="submit" className="composer-button send" disabled={!text.trim()} title="Send (Enter)" data-testid="send">
            <ArrowUpIcon size={18} />
          </button>
        )}
      </div>
      <div className="composer-hint">
        Enter to send · Shift+Enter for a new line
        {session.connectionState !== 'open' ? <span className="composer-offline"> · not connected: live updates resume on reconnect</span> : null}
      </div>
    </form>
  );
}
