import { PlusIcon } from './icons';

export function Home({ onNewSession }: { onNewSession: () => void }) {
  return (
    <div className="home">
      <div className="home-card">
        <div className="home-mark" aria-hidden="true">
          A
        </div>
        <h1>Coding agents, in sandboxes, live.</h1>
        <p>
          Each session runs an agent CLI in its own isolated sandbox. Watch it think, call tools and write files as it
          happens; close the tab and come back later, nothing is lost.
        </p>
        <button type="button" className="button primary large" onClick={onNewSession}>
          <PlusIcon size={18} /> New session
        </button>
        <ul className="home-points">
          <li>
            <strong>Streams everything</strong>
            <span>Text, thinking, tool calls and their results, subagents.</span>
          </li>
          <li>
            <strong>Survives anything</strong>
            <span>Reconnects on its own and picks up exactly where it left off.</span>
          </li>
          <li>
            <strong>Real workspaces</strong>
            <span>Browse the files the agent creates, as it creates them.</span>
          </li>
        </ul>
      </div>
    </div>
  );
}
