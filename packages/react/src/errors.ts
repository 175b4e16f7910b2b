// One error type for everything the client surfaces: REST problems, WebSocket command
// failures, network failures and turns that ended in error.

import type { Problem, TurnError } from './generated/protocol.js';

/** Where an error came from. */
export type ErrorKind =
  /** The server answered with a problem+json error (`status`, `code` are set). */
  | 'api'
  /** The request never got an answer (offline, DNS, connection refused, CORS). */
  | 'network'
  /** The server answered something this client cannot read. */
  | 'protocol'
  /** A turn ended with `reason: error`; `turnError` holds the details. */
  | 'turn';

export class AgentRuntimeError extends Error {
  override readonly name = 'AgentRuntimeError';
  readonly kind: ErrorKind;
  /** HTTP status for `api` errors. */
  readonly status?: number;
  /** Stable machine-readable code: the problem's `code`, the turn error's `code`, or
   * `network_error` / `protocol_error`. */
  readonly code: string;
  readonly problem?: Problem;
  readonly turnError?: TurnError;
  /** The turn this error ended, for `turn` errors. */
  readonly turnId?: string;

  constructor(
    kind: ErrorKind,
    message: string,
    details: {
      status?: number;
      code?: string;
      problem?: Problem;
      turnError?: TurnError;
      turnId?: string;
      cause?: unknown;
    } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.kind = kind;
    this.status = details.status;
    this.code = details.code ?? `${kind}_error`;
    this.problem = details.problem;
    this.turnError = details.turnError;
    this.turnId = details.turnId;
  }

  /** An error from a problem+json body. */
  static fromProblem(problem: Problem): AgentRuntimeError {
    const message = problem.detail ? `${problem.title}: ${problem.detail}` : problem.title;
    return new AgentRuntimeError('api', message, { status: problem.status, code: problem.code, problem });
  }

  /** The error a turn ended with. */
  static fromTurn(turnId: string, error: TurnError | undefined): AgentRuntimeError {
    return new AgentRuntimeError('turn', error?.message ?? 'The turn ended with an error', {
      code: error?.code ?? 'turn_error',
      turnError: error,
      turnId,
      status: error?.httpStatus,
    });
  }

  /** Wraps anything thrown into an `AgentRuntimeError` (network errors become `network`). */
  static from(error: unknown): AgentRuntimeError {
    if (error instanceof AgentRuntimeError) return error;
    const message = error instanceof Error ? error.message : String(error);
    return new AgentRuntimeError('network', message, { code: 'network_error', cause: error });
  }
}

/** Whether `value` looks like a problem+json body. */
export function isProblem(value: unknown): value is Problem {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.code === 'string' && typeof v.title === 'string' && typeof v.status === 'number';
}

/** The outcome of an action whose failure a UI shows rather than catches: never a rejected
 * promise for what the server refused or a network failure. */
export type ActionResult<T> =
  | { ok: true; data: T }
  | {
      ok: false;
      error: AgentRuntimeError;
      /** The error's stable code (`request_not_found`, `already_resolved`, `request_expired`,
       * `invalid_request`, `network_error`, ...). */
      code: string;
      /** The server's problem+json body, when it sent one. */
      problem?: Problem;
      /** For `already_resolved`: how the request was closed (the answer that won). */
      winner?: T;
    };

/** Runs `action`, turning what it throws into `{ok: false}`. */
export async function toActionResult<T>(action: () => Promise<T>): Promise<ActionResult<T>> {
  try {
    return { ok: true, data: await action() };
  } catch (cause) {
    return failedResult(AgentRuntimeError.from(cause));
  }
}

/** The `{ok: false}` result of `error`. */
export function failedResult<T>(error: AgentRuntimeError): ActionResult<T> {
  const winner = error.code === 'already_resolved' ? (error.problem?.resolution as T | undefined) : undefined;
  return {
    ok: false,
    error,
    code: error.code,
    ...(error.problem ? { problem: error.problem } : {}),
    ...(winner ? { winner } : {}),
  };
}
