// The WebSocket to /api/ws: one per client, reconnected for ever.
//
// - Reconnects after every drop with exponential backoff and jitter, with no limit on attempts;
//   the attempt count and the time of the next try are published so a UI can say so.
// - Reconnects at once when the browser comes back `online` or the page becomes visible again.
// - Asks the token getter on every connect; sends the token in an `auth` first frame (default) or
//   as `?token=` on the URL.
// - Detects dead connections with an app-level `ping` (browsers hide the protocol's pings).
// - Answers each command's promise from the `result` with its id; every other frame goes to
//   `onFrame`, in order.
//
// Nothing here touches `window` or `WebSocket` before `start()`, so importing it is SSR-safe.

import { AgentRuntimeError } from './errors.js';
import type { ClientFrame, ServerFrame } from './generated/protocol.js';
import type { TokenGetter } from './rest.js';

/** Where the connection is in its life. */
export type ConnectionState =
  /** Opening the first connection. */
  | 'connecting'
  | 'open'
  /** The connection dropped; waiting for the next attempt or attempting. */
  | 'reconnecting'
  /** Not started, or stopped by the application. */
  | 'closed';

/** What a UI shows about the connection. */
export interface ConnectionInfo {
  state: ConnectionState;
  /** Failed attempts since the connection was last stable (0 while open). */
  attempt: number;
  /** When the next attempt starts (epoch ms), while waiting to reconnect. */
  nextRetryAt: number | null;
  /** Why the last connection failed or closed, if it did. */
  lastError: AgentRuntimeError | null;
}

/** The part of the DOM `WebSocket` this client uses (so tests and other runtimes can supply
 * their own). */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketFactory = (url: string) => WebSocketLike;

export interface ReconnectOptions {
  /** Delay before the first retry. Default 500 ms. */
  initialDelayMs?: number;
  /** Longest delay between retries. Default 30 s. */
  maxDelayMs?: number;
  /** Growth per failed attempt. Default 2. */
  factor?: number;
  /** Fraction of the delay that is random (0: none, 1: full jitter). Default 0.5. */
  jitter?: number;
  /** A connection open this long counts as stable: the next drop starts from the first delay
   * again. Default 10 s. */
  stableAfterMs?: number;
}

export interface HeartbeatOptions {
  /** How often an idle connection is pinged. Default 25 s; 0 disables the heartbeat. */
  intervalMs?: number;
  /** A ping unanswered this long means the connection is dead. Default 10 s. */
  timeoutMs?: number;
}

/** Hooks into the page's life; defaults to `window`'s `online` and `document`'s
 * `visibilitychange` when they exist. Each returns an unsubscribe function. */
export interface EnvironmentHooks {
  onOnline(listener: () => void): () => void;
  onVisible(listener: () => void): () => void;
}

export interface ConnectionOptions {
  /** The `ws(s)://…/api/ws` URL, computed at connect time. */
  url: () => string;
  getToken?: TokenGetter;
  /** How the token travels: an `auth` first frame (default; keeps it out of URLs and logs) or
   * the `token` query parameter. */
  tokenVia?: 'frame' | 'query';
  createSocket?: WebSocketFactory;
  reconnect?: ReconnectOptions;
  heartbeat?: HeartbeatOptions;
  environment?: EnvironmentHooks | null;
  /** How long a command waits for its result. Default 30 s. */
  commandTimeoutMs?: number;
  /** Random numbers in [0, 1), for jitter. */
  random?: () => number;
  now?: () => number;
  /** Every frame that is not the answer to a command, in order. */
  onFrame: (frame: ServerFrame) => void;
  /** The connection is open (and authenticated): subscribe now. */
  onOpen: () => void;
  /** The connection closed (subscriptions are gone with it). */
  onClose?: () => void;
  onInfo: (info: ConnectionInfo) => void;
}

type Pending = {
  resolve: (frame: Extract<ServerFrame, { type: 'result' }>) => void;
  reject: (error: AgentRuntimeError) => void;
  timer: ReturnType<typeof setTimeout>;
};

/** Distributes `Omit` over a union, so each command keeps its own fields. */
export type CommandFrame = ClientFrame extends infer F ? (F extends ClientFrame ? Omit<F, 'id'> : never) : never;

const OPEN = 1;
let nextCommandId = 1;

export class Connection {
  private readonly options: ConnectionOptions;
  private readonly reconnect: Required<ReconnectOptions>;
  private readonly heartbeat: Required<HeartbeatOptions>;
  private socket: WebSocketLike | null = null;
  private info: ConnectionInfo = { state: 'closed', attempt: 0, nextRetryAt: null, lastError: null };
  private started = false;
  private everOpened = false;
  private openedAt = 0;
  private lastFrameAt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private heartbeatTimer: ReturnType<typeof setInterval> | null = null;
  private pending = new Map<string, Pending>();
  private detachEnvironment: (() => void) | null = null;
  /** Bumped for every socket, so late callbacks of an abandoned socket are ignored. */
  private generation = 0;
  /** Set when the server refused this attempt's `auth` frame (it closes the socket next). */
  private authError: AgentRuntimeError | null = null;

  constructor(options: ConnectionOptions) {
    this.options = options;
    this.reconnect = {
      initialDelayMs: options.reconnect?.initialDelayMs ?? 500,
      maxDelayMs: options.reconnect?.maxDelayMs ?? 30_000,
      factor: options.reconnect?.factor ?? 2,
      jitter: options.reconnect?.jitter ?? 0.5,
      stableAfterMs: options.reconnect?.stableAfterMs ?? 10_000,
    };
    this.heartbeat = {
      intervalMs: options.heartbeat?.intervalMs ?? 25_000,
      timeoutMs: options.heartbeat?.timeoutMs ?? 10_000,
    };
  }

  get state(): ConnectionState {
    return this.info.state;
  }

  get isOpen(): boolean {
    return this.info.state === 'open';
  }

  /** Opens the connection (idempotent). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.everOpened = false;
    this.info = { state: 'connecting', attempt: 0, nextRetryAt: null, lastError: null };
    this.publish();
    this.attachEnvironment();
    this.startHeartbeat();
    void this.open();
  }

  /** Closes the connection and stops reconnecting (until `start` again). */
  stop(): void {
    if (!this.started) return;
    this.started = false;
    this.detachEnvironment?.();
    this.detachEnvironment = null;
    this.clearRetry();
    this.stopHeartbeat();
    this.dropSocket(1000, 'client closed');
    this.failPending(new AgentRuntimeError('network', 'The connection was closed', { code: 'connection_closed' }));
    this.info = { state: 'closed', attempt: 0, nextRetryAt: null, lastError: this.info.lastError };
    this.publish();
    this.options.onClose?.();
  }

  /** Skips the wait: connects now if the connection is down (e.g. a "Retry now" button). */
  reconnectNow(): void {
    if (!this.started || this.info.state === 'open' || this.socket) return;
    this.clearRetry();
    void this.open();
  }

  /** Sends a command and resolves with its `result` (ok or not). */
  command(frame: CommandFrame): Promise<Extract<ServerFrame, { type: 'result' }>> {
    const socket = this.socket;
    if (!socket || this.info.state !== 'open') {
      return Promise.reject(
        new AgentRuntimeError('network', 'The connection is not open', { code: 'connection_closed' }),
      );
    }
    const id = `c${nextCommandId++}`;
    return this.sendCommand(socket, { ...frame, id } as ClientFrame);
  }

  /** Sends a command without waiting for its result (its result is ignored). */
  send(frame: CommandFrame): boolean {
    if (!this.socket || this.info.state !== 'open') return false;
    try {
      this.socket.send(JSON.stringify({ ...frame, id: `c${nextCommandId++}` }));
      return true;
    } catch {
      return false;
    }
  }

  private sendCommand(socket: WebSocketLike, frame: ClientFrame): Promise<Extract<ServerFrame, { type: 'result' }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(frame.id);
        reject(new AgentRuntimeError('network', `No answer to ${frame.type}`, { code: 'command_timeout' }));
      }, this.options.commandTimeoutMs ?? 30_000);
      this.pending.set(frame.id, { resolve, reject, timer });
      try {
        socket.send(JSON.stringify(frame));
      } catch (cause) {
        clearTimeout(timer);
        this.pending.delete(frame.id);
        reject(AgentRuntimeError.from(cause));
      }
    });
  }

  private async open(): Promise<void> {
    const generation = ++this.generation;
    this.authError = null;
    this.info = { ...this.info, nextRetryAt: null };
    this.publish();
    let url: string;
    let token: string | null | undefined;
    try {
      token = this.options.getToken ? await this.options.getToken() : undefined;
      url = this.options.url();
      if (token && this.options.tokenVia === 'query') {
        url += `${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
      }
    } catch (cause) {
      if (generation !== this.generation || !this.started) return;
      this.scheduleRetry(AgentRuntimeError.from(cause));
      return;
    }
    if (generation !== this.generation || !this.started) return;
    const create = this.options.createSocket ?? defaultSocketFactory();
    if (!create) {
      this.info = {
        ...this.info,
        state: 'closed',
        lastError: new AgentRuntimeError('network', 'WebSocket is not available here', { code: 'no_websocket' }),
      };
      this.publish();
      return;
    }
    let socket: WebSocketLike;
    try {
      socket = create(url);
    } catch (cause) {
      this.scheduleRetry(AgentRuntimeError.from(cause));
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      if (generation !== this.generation) return;
      this.lastFrameAt = this.now();
      if (token && this.options.tokenVia !== 'query') {
        this.sendCommand(socket, { type: 'auth', id: `c${nextCommandId++}`, token })
          .then((result) => {
            if (generation !== this.generation) return;
            if (result.ok) this.markOpen();
            else this.authError = problemError(result); // the server closes the socket next
          })
          .catch(() => {});
      } else {
        this.markOpen();
      }
    };
    socket.onmessage = (event) => {
      if (generation !== this.generation) return;
      this.lastFrameAt = this.now();
      this.receive(event.data);
    };
    socket.onerror = () => {};
    socket.onclose = (event) => {
      if (generation !== this.generation) return;
      this.handleClose(event.code, event.reason);
    };
  }

  private markOpen(): void {
    this.everOpened = true;
    this.openedAt = this.now();
    this.info = { state: 'open', attempt: this.info.attempt, nextRetryAt: null, lastError: null };
    this.publish();
    this.options.onOpen();
  }

  private receive(data: unknown): void {
    if (typeof data !== 'string') return;
    let frame: ServerFrame;
    try {
      frame = JSON.parse(data) as ServerFrame;
    } catch {
      return;
    }
    if (frame.type === 'result') {
      const pending = this.pending.get(frame.id);
      if (pending) {
        this.pending.delete(frame.id);
        clearTimeout(pending.timer);
        pending.resolve(frame);
        return;
      }
    }
    this.options.onFrame(frame);
  }

  private handleClose(code: number, reason: string): void {
    const wasOpen = this.info.state === 'open';
    this.socket = null;
    this.generation++;
    const error =
      this.authError ??
      new AgentRuntimeError('network', reason ? `Connection closed: ${reason}` : `Connection closed (${code})`, {
        code: code === 1008 ? 'unauthorized' : 'connection_closed',
      });
    this.afterClose(wasOpen, error);
  }

  /** Fails waiting commands, tells the client, and schedules the next attempt. */
  private afterClose(wasOpen: boolean, error: AgentRuntimeError): void {
    this.failPending(error);
    if (wasOpen) this.options.onClose?.();
    if (!this.started) return;
    if (wasOpen && this.now() - this.openedAt >= this.reconnect.stableAfterMs) {
      this.info = { ...this.info, attempt: 0 };
    }
    this.scheduleRetry(error);
  }

  private scheduleRetry(error: AgentRuntimeError): void {
    if (!this.started) return;
    const attempt = this.info.attempt + 1;
    const delay = this.delayFor(attempt);
    this.clearRetry();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.open();
    }, delay);
    this.info = {
      state: this.everOpened ? 'reconnecting' : 'connecting',
      attempt,
      nextRetryAt: this.now() + delay,
      lastError: error,
    };
    this.publish();
  }

  /** The wait before attempt `attempt` (1-based): exponential, capped, partly random. */
  delayFor(attempt: number): number {
    const { initialDelayMs, maxDelayMs, factor, jitter } = this.reconnect;
    const base = Math.min(maxDelayMs, initialDelayMs * factor ** Math.max(0, attempt - 1));
    const random = (this.options.random ?? Math.random)();
    return Math.round(base * (1 - jitter * random));
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private dropSocket(code: number, reason: string): void {
    const socket = this.socket;
    this.socket = null;
    this.generation++;
    if (!socket) return;
    socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
    try {
      socket.close(code, reason);
    } catch {
      // Already closed.
    }
  }

  private failPending(error: AgentRuntimeError): void {
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.pending.clear();
  }

  private startHeartbeat(): void {
    const { intervalMs } = this.heartbeat;
    if (intervalMs <= 0) return;
    this.heartbeatTimer = setInterval(() => this.checkAlive(), intervalMs);
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  /** Pings an open connection; one that stays silent past the timeout is dropped and
   * reconnected (a sleeping laptop's socket can look open for minutes). */
  private checkAlive(): void {
    const socket = this.socket;
    if (!socket || this.info.state !== 'open') return;
    const sentAt = this.now();
    const generation = this.generation;
    this.sendCommand(socket, { type: 'ping', id: `c${nextCommandId++}` }).catch(() => {});
    setTimeout(() => {
      if (generation !== this.generation || this.socket !== socket) return;
      if (this.lastFrameAt < sentAt) {
        this.dropSocket(4000, 'heartbeat timeout');
        this.handleDeadSocket();
      }
    }, this.heartbeat.timeoutMs);
  }

  private handleDeadSocket(): void {
    const wasOpen = this.info.state === 'open';
    this.afterClose(
      wasOpen,
      new AgentRuntimeError('network', 'The connection stopped answering', { code: 'heartbeat_timeout' }),
    );
  }

  private attachEnvironment(): void {
    const environment = this.options.environment === undefined ? defaultEnvironment() : this.options.environment;
    if (!environment) return;
    const offOnline = environment.onOnline(() => this.reconnectNow());
    const offVisible = environment.onVisible(() => {
      if (this.info.state === 'open') this.checkAlive();
      else this.reconnectNow();
    });
    this.detachEnvironment = () => {
      offOnline();
      offVisible();
    };
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private publish(): void {
    this.options.onInfo(this.info);
  }
}

function problemError(result: Extract<ServerFrame, { type: 'result' }>): AgentRuntimeError {
  return result.error
    ? AgentRuntimeError.fromProblem(result.error)
    : new AgentRuntimeError('protocol', 'The command failed', { code: 'protocol_error' });
}

function defaultSocketFactory(): WebSocketFactory | null {
  const Ctor = (globalThis as { WebSocket?: new (url: string) => WebSocketLike }).WebSocket;
  return Ctor ? (url) => new Ctor(url) : null;
}

/** `online` and `visibilitychange` of the page, when there is one. */
export function defaultEnvironment(): EnvironmentHooks | null {
  if (typeof window === 'undefined' || typeof document === 'undefined') return null;
  return {
    onOnline(listener) {
      window.addEventListener('online', listener);
      return () => window.removeEventListener('online', listener);
    },
    onVisible(listener) {
      const onChange = () => {
        if (document.visibilityState === 'visible') listener();
      };
      document.addEventListener('visibilitychange', onChange);
      return () => document.removeEventListener('visibilitychange', onChange);
    },
  };
}
