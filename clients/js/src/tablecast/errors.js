// errors.js: the client's error type and the server's close codes (part of
// tablecast.js, which re-exports what is public).

/** Close codes the server uses (native protocol). */
export const CloseCode = Object.freeze({
  Shutdown: 4000,
  TokenExpired: 4001,
  SlowConsumer: 4002,
  Kicked: 4003,
  RateLimited: 4004,
  HeartbeatTimeout: 4005,
});

/**
 * The one error type of the client. `code` says what kind of failure it is:
 *   server_error     the server answered a request with an error (`status`)
 *   auth_failed      the server refused the token (`status` 401)
 *   connection_lost  the connection ended before the reply came
 *   not_connected    the client is closed or was never connected
 *   closed           close() was called, or the client stopped for good
 *                    (`closeCode`, `reason` when the server ended it)
 *   timeout          no reply within the request timeout
 *   invalid_argument a call with arguments the protocol does not allow
 */
export class TablecastError extends Error {
  constructor(code, message, extra = {}) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'TablecastError';
    this.code = code;
    if (extra.status !== undefined) this.status = extra.status;
    if (extra.closeCode !== undefined) this.closeCode = extra.closeCode;
    if (extra.reason !== undefined) this.reason = extra.reason;
    if (extra.retryAfter !== undefined) this.retryAfter = extra.retryAfter;
  }
}

/** The error of an error message: its code, and retry_after (in ms) with a 503. */
export function serverError(e) {
  const extra = { status: e.code };
  if (typeof e.retry_after === 'number') extra.retryAfter = e.retry_after * 1000;
  return new TablecastError('server_error', `tablecast: ${e.message || 'error'} (${e.code})`, extra);
}

/** A refusal the server asks to be retried: its broker or store is away for now. */
export function retryable(err) {
  return !!err && err.code === 'server_error' && err.status === 503;
}
