// token.js: renewing the open connection's token ahead of its exp (part of
// tablecast.js). The client owns one TokenRenewal; it learns each token's
// seconds to exp from the connected data and from refresh replies.

import { MIN_REFRESH_DELAY } from './options.js';

export class TokenRenewal {
  /**
   * client is the TablecastClient: its options (getToken, refreshAhead),
   * refresh() to send the new token, and isCurrent(conn) to tell whether
   * the connection a renewal began on is still the open one.
   */
  constructor(client) {
    this._client = client;
    this._timer = null;
    this._expiresAt = 0; // the current token's exp, by this clock (ms); 0: none
  }

  /** Schedules the next renewal for a token expiring in `seconds` (none when absent). */
  note(seconds) {
    this.stop();
    const c = this._client;
    this._expiresAt = typeof seconds === 'number' && seconds !== 0 ? Date.now() + seconds * 1000 : 0;
    if (!this._expiresAt || !c._tokenFn() || !(c._opts.refreshAhead > 0)) return;
    const left = this._expiresAt - Date.now();
    const ahead = Math.min(c._opts.refreshAhead, left / 2);
    this._schedule(Math.max(left - ahead, MIN_REFRESH_DELAY));
  }

  /** Cancels the scheduled renewal. */
  stop() {
    clearTimeout(this._timer);
    this._timer = null;
  }

  _schedule(ms) {
    this.stop();
    this._timer = setTimeout(() => {
      this._timer = null;
      this._renew();
    }, ms);
  }

  async _renew() {
    const c = this._client;
    const conn = c._conn;
    try {
      const token = await c._tokenFn()();
      if (!c._isCurrent(conn)) return; // the next connection uses a new token anyway
      const expiresIn = await c.refresh(token || '');
      c._emit('token_refreshed', { expiresIn });
    } catch (err) {
      if (!c._isCurrent(conn)) return;
      c._emit('token_refresh_failed', { error: err });
      // Again in half the time left, while there is some: past exp the
      // server closes (4001) and the reconnect asks getToken anyway.
      const left = this._expiresAt - Date.now();
      if (this._expiresAt && left > 2 * MIN_REFRESH_DELAY && !this._timer) this._schedule(left / 2);
    }
  }
}
