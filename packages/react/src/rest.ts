// The REST API under /api, typed with the generated protocol types. Every call asks the token
// getter afresh, so a rotated token is picked up without rebuilding the client.

import { AgentRuntimeError, isProblem } from './errors.js';
import type {
  AgentList,
  AnswerPermissionRequest,
  AnswerQuestionRequest,
  BudgetApproval,
  CreateSessionRequest,
  FileInfo,
  FileList,
  Health,
  InterruptResponse,
  PatchSessionRequest,
  PermissionResolution,
  QuestionResolution,
  SendMessageRequest,
  SendMessageResponse,
  SessionInfo,
  SessionList,
  SessionSnapshot,
} from './generated/protocol.js';

/** Returns the API key / bearer token to send, or nothing for a server without keys. */
export type TokenGetter = () => string | null | undefined | Promise<string | null | undefined>;

export interface RestClientOptions {
  /** Server origin, e.g. `http://localhost:8080`; empty for the page's own origin. */
  baseUrl?: string;
  getToken?: TokenGetter;
  /** Defaults to the global `fetch`, looked up at call time (never at import). */
  fetch?: typeof fetch;
}

/** A workspace file's content as read over REST. */
export interface FileContent {
  path: string;
  sha256: string | null;
  contentType: string;
  /** The text, when the content is text (by content type, or valid UTF-8 without NULs). */
  text: string | null;
  /** The raw bytes, always. */
  bytes: Uint8Array;
}

export class RestClient {
  readonly baseUrl: string;
  private readonly getToken?: TokenGetter;
  private readonly fetchImpl?: typeof fetch;

  constructor(options: RestClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? '').replace(/\/+$/, '');
    this.getToken = options.getToken;
    this.fetchImpl = options.fetch;
  }

  health(signal?: AbortSignal): Promise<Health> {
    return this.json('GET', '/healthz', undefined, signal);
  }

  listSessions(params: { cursor?: string; limit?: number } = {}, signal?: AbortSignal): Promise<SessionList> {
    const query = new URLSearchParams();
    if (params.cursor) query.set('cursor', params.cursor);
    if (params.limit != null) query.set('limit', String(params.limit));
    const text = query.toString();
    const suffix = text ? `?${text}` : '';
    return this.json('GET', `/api/sessions${suffix}`, undefined, signal);
  }

  createSession(request: CreateSessionRequest = {}): Promise<SessionInfo> {
    return this.json('POST', '/api/sessions', request);
  }

  getSession(sessionId: string, signal?: AbortSignal): Promise<SessionSnapshot> {
    return this.json('GET', `/api/sessions/${segment(sessionId)}`, undefined, signal);
  }

  patchSession(sessionId: string, patch: PatchSessionRequest): Promise<SessionInfo> {
    return this.json('PATCH', `/api/sessions/${segment(sessionId)}`, patch);
  }

  async deleteSession(sessionId: string): Promise<void> {
    await this.request('DELETE', `/api/sessions/${segment(sessionId)}`);
  }

  sendMessage(sessionId: string, request: SendMessageRequest): Promise<SendMessageResponse> {
    return this.json('POST', `/api/sessions/${segment(sessionId)}/messages`, request);
  }

  interrupt(sessionId: string): Promise<InterruptResponse> {
    return this.json('POST', `/api/sessions/${segment(sessionId)}/interrupt`, {});
  }

  /** Answers a permission request (`POST /api/sessions/:id/permissions/:requestId`). */
  answerPermission(sessionId: string, requestId: string, answer: AnswerPermissionRequest): Promise<PermissionResolution> {
    return this.json('POST', `/api/sessions/${segment(sessionId)}/permissions/${segment(requestId)}`, answer);
  }

  /** Answers a question request (`POST /api/sessions/:id/questions/:requestId`). */
  answerQuestion(sessionId: string, requestId: string, answer: AnswerQuestionRequest): Promise<QuestionResolution> {
    return this.json('POST', `/api/sessions/${segment(sessionId)}/questions/${segment(requestId)}`, answer);
  }

  /** Lets the session go on past the budget limit it reached, once. */
  approveBudget(sessionId: string): Promise<BudgetApproval> {
    return this.json('POST', `/api/sessions/${segment(sessionId)}/budget/approve`, {});
  }

  /** The agents this server runs, with what each can do (`GET /api/agents`). */
  listAgents(signal?: AbortSignal): Promise<AgentList> {
    return this.json('GET', '/api/agents', undefined, signal);
  }

  async listFiles(sessionId: string): Promise<FileInfo[]> {
    const list: FileList = await this.json('GET', `/api/sessions/${segment(sessionId)}/files`);
    return list.files;
  }

  async readFile(sessionId: string, path: string, signal?: AbortSignal): Promise<FileContent> {
    const response = await this.request('GET', filePath(sessionId, path), undefined, signal);
    const bytes = new Uint8Array(await response.arrayBuffer());
    const contentType = response.headers.get('content-type') ?? 'application/octet-stream';
    return {
      path,
      sha256: response.headers.get('x-sha256'),
      contentType,
      text: decodeText(bytes, contentType),
      bytes,
    };
  }

  writeFile(sessionId: string, path: string, content: BodyInit): Promise<FileInfo> {
    return this.request('PUT', filePath(sessionId, path), content).then((r) => r.json() as Promise<FileInfo>);
  }

  async deleteFile(sessionId: string, path: string): Promise<void> {
    await this.request('DELETE', filePath(sessionId, path));
  }

  /** Absolute URL of a path under the server. */
  url(path: string): string {
    return `${this.baseUrl}${path}`;
  }

  private async json<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const response = await this.request(
      method,
      path,
      body === undefined ? undefined : JSON.stringify(body),
      signal,
      body === undefined ? undefined : 'application/json',
    );
    try {
      return (await response.json()) as T;
    } catch (cause) {
      throw new AgentRuntimeError('protocol', `${method} ${path}: the response is not JSON`, {
        code: 'protocol_error',
        cause,
      });
    }
  }

  private async request(
    method: string,
    path: string,
    body?: BodyInit,
    signal?: AbortSignal,
    contentType?: string,
  ): Promise<Response> {
    const fetchImpl = this.fetchImpl ?? globalThis.fetch;
    if (!fetchImpl) throw new AgentRuntimeError('network', 'fetch is not available here', { code: 'network_error' });
    const headers: Record<string, string> = { accept: 'application/json' };
    if (contentType) headers['content-type'] = contentType;
    const token = this.getToken ? await this.getToken() : undefined;
    if (token) headers.authorization = `Bearer ${token}`;
    let response: Response;
    try {
      response = await fetchImpl(this.url(path), { method, headers, body, signal });
    } catch (cause) {
      if (signal?.aborted) throw cause;
      throw new AgentRuntimeError('network', `${method} ${path}: ${messageOf(cause)}`, {
        code: 'network_error',
        cause,
      });
    }
    if (!response.ok) throw await errorOf(response, method, path);
    return response;
  }
}

async function errorOf(response: Response, method: string, path: string): Promise<AgentRuntimeError> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  if (isProblem(body)) return AgentRuntimeError.fromProblem(body);
  return new AgentRuntimeError('api', `${method} ${path}: HTTP ${response.status}`, {
    status: response.status,
    code: `http_${response.status}`,
  });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** One path segment, percent-encoded. */
function segment(value: string): string {
  return encodeURIComponent(value);
}

function filePath(sessionId: string, path: string): string {
  const encoded = path.split('/').map(segment).join('/');
  return `/api/sessions/${segment(sessionId)}/files/${encoded}`;
}

const TEXT_TYPES = /^(text\/|application\/(json|x-ndjson|xml|javascript|toml|yaml|x-sh))|\+xml|\+json/;

function decodeText(bytes: Uint8Array, contentType: string): string | null {
  const declaredText = TEXT_TYPES.test(contentType);
  if (!declaredText && !/octet-stream/.test(contentType)) return null;
  if (!declaredText && bytes.subarray(0, 8000).includes(0)) return null;
  try {
    return new TextDecoder('utf-8', { fatal: !declaredText }).decode(bytes);
  } catch {
    return null;
  }
}
