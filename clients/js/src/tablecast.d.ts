// Types of tablecast.js, the client of tablecast's native protocol.

export declare const CloseCode: Readonly<{
  Shutdown: 4000;
  TokenExpired: 4001;
  SlowConsumer: 4002;
  Kicked: 4003;
  RateLimited: 4004;
  HeartbeatTimeout: 4005;
}>;

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

export declare const State: Readonly<{
  Idle: 'idle';
  Connecting: 'connecting';
  Connected: 'connected';
  Reconnecting: 'reconnecting';
  Closed: 'closed';
}>;

export type TablecastErrorCode =
  | 'server_error'
  | 'auth_failed'
  | 'connection_lost'
  | 'not_connected'
  | 'closed'
  | 'timeout'
  | 'invalid_argument';

/** The one error type of the client. */
export declare class TablecastError extends Error {
  readonly name: 'TablecastError';
  readonly code: TablecastErrorCode;
  /** The server's error code (400, 401, 403, 404, 409, 413, 429, 500, 503). */
  readonly status?: number;
  /** The close code, when the server ended the connection. */
  readonly closeCode?: number;
  readonly reason?: string;
  /** With status 503: the wait in ms the server asked for before a retry. subscribe() and the resubscriptions after a reconnect retry such refusals by themselves, with backoff. */
  readonly retryAfter?: number;
  constructor(code: TablecastErrorCode, message: string, extra?: { status?: number; closeCode?: number; reason?: string; retryAfter?: number; cause?: unknown });
}

export interface ClientOptions {
  /** ws://host/api/ws/socket (http(s):// also accepted). In a browser it defaults to this page's host. */
  url?: string;
  /** The JWT, or a function called before every connection attempt (so a reconnect can present a fresh token). */
  token?: string | (() => string | Promise<string>);
  /**
   * Gives a fresh token for the same user. Called before every connection attempt (it wins
   * over `token`) and ahead of the token's exp, whose token then renews the open connection's
   * (a `refresh` message), so a connection outlives any one token. `token` as a function does the same.
   */
  getToken?: () => string | Promise<string>;
  /**
   * How long before the token's exp (ms) getToken is asked for the next one: this
   * (default 30000) or half the time left if shorter. 0 turns renewal on an open connection off.
   */
  refreshAhead?: number;
  /**
   * 'connect' (default): the token goes in a first `connect` message, never in a URL,
   * and a refused token is reported as auth_failed. 'query': `?token=`.
   */
  tokenMode?: 'connect' | 'query';
  /** session_id: 1-64 of [A-Za-z0-9_-], so one user's tabs can be told apart. */
  sessionId?: string;
  /** Reconnect after a lost connection (default true). */
  reconnect?: boolean;
  /** Backoff bounds in ms, full jitter (defaults 100 and 10000). */
  reconnectMin?: number;
  reconnectMax?: number;
  /** Each attempt's limit, up to `connected`, in ms (default 10000). */
  connectTimeout?: number;
  /** Limit for a reply, in ms; 0 for none (default 15000). Submits have none: they wait across reconnects. */
  requestTimeout?: number;
  /** A protocol ping every so many ms; no pong by the next one drops the connection. 0 turns it off (default 25000). */
  pingInterval?: number;
  /** In a browser: reconnect at once when the page becomes visible or the network comes back (default true). */
  watchVisibility?: boolean;
  /** The submit src (default: random per client). */
  src?: string;
  /** A WebSocket class (default: globalThis.WebSocket). */
  WebSocket?: new (url: string) => WebSocket;
}

export interface ConnectedInfo {
  connection_id: string;
  user_id: string;
  session_id: string;
  heartbeat_interval: number;
  max_message_size: number;
  /** Seconds from `connected` to the token's exp; absent when the token has no exp. */
  expires_in?: number;
}

export interface Position {
  offset: number;
  epoch: string;
}

export interface SubscribeResult extends Position {
  /** With `since`: every missed message was replayed before the reply. False: refetch. */
  recovered: boolean;
}

export type JSON0Component = { p: (string | number)[]; [k: string]: unknown };

export interface OpData {
  /** The version the op applied to (the document is at v+1 after it). */
  v: number;
  op?: JSON0Component[];
  create?: Record<string, unknown>;
  del?: true;
  /** The connection that made the change, or 'server'. */
  source?: string;
  user_id?: string;
}

export interface OpMessage {
  type: 'op';
  collection: string;
  document: string;
  offset?: number;
  data: OpData;
  timestamp: string;
}

export interface AppMessage {
  type: 'message';
  collection?: string;
  document?: string;
  offset?: number;
  data: unknown;
  timestamp: string;
}

export interface PresenceEvent {
  collection: string;
  document?: string;
  user_id: string;
  session_id: string;
  connection_id: string;
  /** The state the other client set, or null when it left. */
  state: Record<string, unknown> | null;
}

export interface Snapshot<T = Record<string, unknown>> {
  document: string;
  v: number;
  data: T;
}

export interface RecordData {
  id: number;
  order: string;
  fields: Record<string, unknown>;
}

export interface QueryRequest {
  filter?: unknown;
  sort?: unknown;
  search?: string;
  limit?: number;
  cursor?: string;
  view_id?: number;
}

export interface QueryResult<T = RecordData> {
  results: Snapshot<T>[];
  next_cursor: string | null;
  offset: number;
}

export type SubmitData =
  | { v: number; op: JSON0Component[] }
  | { v: number; create: Record<string, unknown> }
  | { v: number; del: true };

export interface SubmitAck {
  /** The document's version after the change. */
  v: number;
  /** The change had been applied already (a resend). */
  duplicate: boolean;
  offset?: number;
  /**
   * The json0 op that turns the submitter's copy into the stored document,
   * when the server stored a value in another form than it was sent.
   */
  fixup?: unknown[];
}

export interface ClientEvents {
  state: { state: ConnectionState; previous: ConnectionState };
  connected: { info: ConnectedInfo; reconnected: boolean };
  disconnected: { code: number; reason: string; reconnect: boolean; error?: unknown };
  reconnecting: { attempt: number; delay: number; code: number; reason: string };
  /** A subscription restored after a reconnect, with everything missed replayed. */
  recovered: { collection: string; document?: string; result: SubscribeResult };
  /** A subscription restored after a reconnect, but what was missed is gone: refetch. */
  not_recovered: { collection: string; document?: string; result: SubscribeResult };
  /** The server refused to restore a subscription; the client forgot it. */
  resubscribe_failed: { collection: string; document?: string; error: TablecastError };
  op: OpMessage;
  message: AppMessage;
  presence: PresenceEvent;
  /** The server ended a subscription (e.g. reason "forbidden"). */
  unsubscribed: { collection: string; document?: string; reason: string };
  /** An error the server sent outside any request, or a failed presence restore. */
  server_error: { error: TablecastError; collection?: string; document?: string };
  /** The token was renewed on the open connection with getToken; expiresIn in seconds. */
  token_refreshed: { expiresIn?: number };
  /** Renewing the token failed; it is tried again before exp, and a reconnect asks getToken anyway. */
  token_refresh_failed: { error: unknown };
  /** The client stopped for good. */
  closed: { error: TablecastError };
}

export declare class TablecastClient {
  constructor(options?: ClientOptions);
  readonly state: ConnectionState;
  /** The current connection's id (send it as X-WebSocket-Id with REST writes), or null between connections. */
  readonly connectionId: string | null;
  readonly info: ConnectedInfo | null;
  readonly src: string;
  readonly pendingSubmits: number;
  position(collection: string): Position | undefined;

  on<K extends keyof ClientEvents>(type: K, fn: (ev: ClientEvents[K]) => void): () => void;
  off<K extends keyof ClientEvents>(type: K, fn: (ev: ClientEvents[K]) => void): void;

  connect(): Promise<ConnectedInfo>;
  subscribe(collection: string, document?: string, options?: { since?: Position }): Promise<SubscribeResult>;
  unsubscribe(collection: string, document?: string): Promise<void>;
  query<T = RecordData>(collection: string, data?: QueryRequest): Promise<QueryResult<T>>;
  submit(collection: string, document: string, data: SubmitData): Promise<SubmitAck>;
  presence(collection: string, document: string | undefined, state: Record<string, unknown> | null): Promise<void>;
  /** Round-trip time in ms. */
  ping(): Promise<number>;
  /**
   * Renews the open connection's token (same user); resolves with its seconds to exp.
   * A refused token rejects with server_error status 401 and the old exp still applies.
   */
  refresh(token: string): Promise<number | undefined>;
  reconnect(): void;
  close(): void;
}

export declare function connect(options?: ClientOptions): Promise<TablecastClient>;
export declare function backoffDelay(attempt: number, min: number, max: number): number;
