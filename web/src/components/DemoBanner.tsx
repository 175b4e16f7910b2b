import { InfoIcon } from './icons';

export function DemoBanner() {
  return (
    <div className="demo-banner" role="note" data-testid="demo-banner">
      <InfoIcon size={16} />
      <span>
        <strong>Demo mode.</strong> Answers come from agent-runtime's built-in scripted model, not a real AI. The
        agent, its sandbox and its tools are real: try <q>create hello.txt</q>.
      </span>
    </div>
  );
}
