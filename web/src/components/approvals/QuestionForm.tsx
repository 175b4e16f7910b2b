// The agent's questions to the user, inline in the transcript: one choice per question (radio
// buttons, or checkboxes for a multi-select question) plus free text ("Other"), sent together; once
// closed, the answers given.

import { useQuestions, type Question, type QuestionAnswer, type QuestionItem } from '@agent-runtime/react';
import { useState, type FormEvent } from 'react';

import { CheckIcon, InfoIcon } from '../icons';
import { answerErrorText, questionOutcome } from './wording';

/** What the user picked for one question: option labels, and free text when "Other" is on. */
interface Choice {
  labels: string[];
  other: boolean;
  otherText: string;
}

const NO_CHOICE: Choice = { labels: [], other: false, otherText: '' };

export function QuestionForm({ sessionId, item }: { sessionId: string; item: QuestionItem }) {
  const { answer } = useQuestions(sessionId);
  const [choices, setChoices] = useState<Record<string, Choice>>({});
  const [error, setError] = useState<string | null>(null);
  const { resolution } = item;

  const answers = Object.fromEntries(item.questions.map((q) => [q.question, answerOf(q, choices[q.question] ?? NO_CHOICE)]));
  const complete = Object.values(answers).every((a) => a !== null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!complete) return;
    setError(null);
    const result = await answer(item.requestId, answers as Record<string, QuestionAnswer>);
    if (!result.ok) setError(answerErrorText(result.code, result.error.message));
  }

  if (resolution) {
    return (
      <div
        className="row question-card resolved"
        data-testid="question-card"
        data-request-id={item.requestId}
        data-state={item.optimistic ? 'answering' : 'answered'}
        data-by={item.optimistic ? undefined : resolution.by}
      >
        <div className="approval-header">
          <InfoIcon size={15} />
          <span>{item.questions.length === 1 ? 'The agent asked' : 'The agent asked you'}</span>
          <span className="approval-outcome-inline">
            <CheckIcon size={13} /> {questionOutcome(resolution, item.optimistic)}
          </span>
        </div>
        <dl className="question-answers">
          {item.questions.map((q) => {
            const given = resolution.answers[q.question];
            return (
              <div key={q.question} data-testid="question-answer">
                <dt>{q.question}</dt>
                <dd>{given === undefined ? <span className="muted">no answer</span> : Array.isArray(given) ? given.join(', ') : given}</dd>
              </div>
            );
          })}
        </dl>
        {error ? <div className="approval-error" role="alert">{error}</div> : null}
      </div>
    );
  }

  return (
    <form className="row question-card pending" onSubmit={submit} data-testid="question-card" data-request-id={item.requestId} data-state="pending">
      <div className="approval-header">
        <InfoIcon size={15} />
        <span>The agent asks you</span>
      </div>
      {item.questions.map((q, index) => (
        <QuestionField
          key={q.question}
          name={`${item.requestId}-${index}`}
          question={q}
          choice={choices[q.question] ?? NO_CHOICE}
          onChange={(choice) => setChoices((all) => ({ ...all, [q.question]: choice }))}
        />
      ))}
      <div className="approval-actions">
        <button type="submit" className="button primary small" disabled={!complete} data-testid="question-submit">
          Send {item.questions.length === 1 ? 'answer' : 'answers'}
        </button>
        {!complete ? <span className="muted small">Answer every question to send.</span> : null}
      </div>
      {error ? (
        <div className="approval-error" role="alert" data-testid="approval-error">
          {error}
        </div>
      ) : null}
    </form>
  );
}

function QuestionField(props: { name: string; question: Question; choice: Choice; onChange: (choice: Choice) => void }) {
  const { question, choice, onChange, name } = props;
  const multi = question.multiSelect;
  const type = multi ? 'checkbox' : 'radio';
  function pick(label: string, checked: boolean) {
    if (!multi) onChange({ ...choice, labels: [label], other: false });
    else onChange({ ...choice, labels: checked ? [...choice.labels, label] : choice.labels.filter((l) => l !== label) });
  }
  return (
    <fieldset className="question" data-testid="question" data-question={question.question}>
      <legend>
        {question.header ? <span className="tag">{question.header}</span> : null}
        {question.question}
        {multi ? <span className="muted small"> (pick any)</span> : null}
      </legend>
      {question.options.map((option) => (
        <label key={option.label} className="question-option">
          <input
            type={type}
            name={name}
            checked={choice.labels.includes(option.label) && (multi || !choice.other)}
            onChange={(e) => pick(option.label, e.target.checked)}
            data-testid="question-option"
            value={option.label}
          />
          <span>
            <span className="question-option-label">{option.label}</span>
            {option.description ? <span className="question-option-description">{option.description}</span> : null}
          </span>
        </label>
      ))}
      <label className="question-option other">
        <input
          type={type}
          name={name}
          checked={choice.other}
          onChange={(e) => onChange(multi ? { ...choice, other: e.target.checked } : { ...choice, labels: [], other: true })}
          data-testid="question-other-toggle"
        />
        <span>Other:</span>
        <input
          type="text"
          value={choice.otherText}
          placeholder="Your own answer"
          onChange={(e) =>
            onChange({ ...choice, otherText: e.target.value, other: true, labels: multi ? choice.labels : [] })
          }
          aria-label={`Other answer to: ${question.question}`}
          data-testid="question-other"
        />
      </label>
    </fieldset>
  );
}

/** The answer a choice makes, or null while it makes none. */
function answerOf(question: Question, choice: Choice): QuestionAnswer | null {
  const other = choice.other ? choice.otherText.trim() : '';
  if (question.multiSelect) {
    const all = [...choice.labels, ...(other ? [other] : [])];
    return all.length > 0 ? all : null;
  }
  if (choice.other) return other || null;
  return choice.labels[0] ?? null;
}
