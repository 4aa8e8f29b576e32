// heartbeat.js: the client's pings (part of tablecast.js). A socket whose
// ping has had no pong by the next interval (or within a given timeout) is
// dropped and the client reconnects: a sleeping laptop's socket may be dead
// without either side being told.

export class Heartbeat {
  /** client is the TablecastClient: its options (pingInterval), _send and _drop. */
  constructor(client) {
    this._client = client;
    this._timer = null;
  }

  /** Pings the open socket every pingInterval ms (none when it is 0). */
  start() {
    this.stop();
    const c = this._client;
    const every = c._opts.pingInterval;
    if (!(every > 0)) return;
    this._timer = setInterval(() => {
      const conn = c._conn;
      if (!conn || !conn.ready) return;
      if (conn.pingPending) {
        c._drop(conn, { code: 0, reason: 'ping timeout', reconnect: true });
        return;
      }
      this.ping(conn, 0);
    }, every);
  }

  stop() {
    clearInterval(this._timer);
    this._timer = null;
  }

  /** Pings conn now; with a timeout (ms) the socket is dropped if no pong comes in time. */
  ping(conn, timeout) {
    const c = this._client;
    conn.pingPending = true;
    let t = null;
    if (timeout > 0) t = setTimeout(() => { if (conn.pingPending) c._drop(conn, { code: 0, reason: 'ping timeout', reconnect: true }); }, timeout);
    c._send(conn, { type: 'ping' }, {
      resolve: () => { conn.pingPending = false; clearTimeout(t); },
      reject: () => { clearTimeout(t); },
    });
  }
}
