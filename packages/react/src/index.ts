// @agent-runtime/react: React hooks for agent-runtime.
//
// Layout
// - generated/protocol.ts  wire types, generated from crates/protocol (do not edit)
// - fold.ts                the fold, mirroring crates/protocol/src/state.rs (golden-tested)
// - fold-approvals.ts      its human-in-the-loop part (requests, questions, budgets) and `status`
// - rest.ts                the REST API
// - connection.ts          the WebSocket: reconnect with backoff and jitter, auth, heartbeat
// - client.ts              AgentClient, the public face: sessions, optimistic messages, stop,
//                          files; the store it writes
// - session-sync.ts        its sync: snapshot + subscribe-from-cursor, dedup, gaps, resync
// - answers.ts             its human-in-the-loop commands: answers to requests, budgets
// - session-views.ts       reading and changing one session's view in the store
// - state.ts               the client's state and what hooks derive from it
// - reconcile.ts           identity-preserving snapshot merge
// - approvals.ts           requests and questions with this client's optimistic answers laid over
// - store.ts               the external store behind useSyncExternalStore
// - react/                 provider and hooks

export * from './generated/protocol.js';
export { MAIN_CONVERSATION, MAX_NETWORK_DENIALS, emptySessionState, fold, foldAll } from './fold.js';
export { AgentRuntimeError, type ActionResult, type ErrorKind } from './errors.js';
export {
  awaitsUser,
  type PermissionAnswer,
  type PermissionItem,
  type QuestionAnswers,
  type QuestionItem,
} from './approvals.js';
export { RestClient, type FileContent, type RestClientOptions, type TokenGetter } from './rest.js';
export {
  Connection,
  type ConnectionInfo,
  type ConnectionOptions,
  type ConnectionState,
  type EnvironmentHooks,
  type HeartbeatOptions,
  type ReconnectOptions,
  type WebSocketFactory,
  type WebSocketLike,
} from './connection.js';
export {
  AgentClient,
  newClientMessageId,
  webSocketEndpoint,
  type AgentClientOptions,
  type SendMessageOptions,
} from './client.js';
export { applyEnvelope, type SyncStats } from './session-sync.js';
export { type AnswerOptions } from './answers.js';
export {
  buildFileTree,
  fileKey,
  initialClientState,
  sessionStatus,
  threadBlocks,
  type ClientState,
  type FileContentView,
  type FileTreeNode,
  type OptimisticMessage,
  type SessionListView,
  type SessionStatus,
  type SessionView,
  type TurnSummary,
} from './state.js';
export { reconcileState, deepEqual } from './reconcile.js';
export { Store } from './store.js';
export {
  AgentClientContext,
  AgentServiceProvider,
  useAgentClient,
  type AgentServiceConfig,
  type AgentServiceProviderProps,
} from './react/provider.js';
export {
  useAgents,
  useAgentSelector,
  useAgentSession,
  useBlock,
  useBlockIds,
  useConnection,
  useEvents,
  useFileContent,
  useHealth,
  useMessages,
  useNetworkDenials,
  useOptimisticMessage,
  useSessionList,
  useSubagent,
  useSubagents,
  useToolResult,
  useWatchSession,
  useWorkspaceFiles,
  type SubagentInfo,
  type UseAgentsResult,
  type UseAgentSessionResult,
  type UseConnectionResult,
  type UseFileContentResult,
  type UseMessagesResult,
  type UseNetworkDenialsResult,
  type UseSessionListResult,
  type UseSubagentsResult,
  type UseWorkspaceFilesResult,
} from './react/hooks.js';
export {
  useBudget,
  usePermissions,
  useQuestions,
  type UseBudgetResult,
  type UsePermissionsResult,
  type UseQuestionsResult,
} from './react/approvals.js';
export { useStoreSelector, shallowArrayEqual, shallowEqual } from './react/useStoreSelector.js';
