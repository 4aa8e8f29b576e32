package httpapi

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// LogRequests logs one line per HTTP request at debug level: method, path,
// status, bytes written, duration and the client's address. A socket's
// line is written when its handshake is done (status 101). Tokens never
// reach the log: no header is logged, and the values of query parameters
// that can carry one (token, access_token, jwt, jwt_token, api_key, key) are replaced
// by "REDACTED". When debug is off the handler costs one level check.
func LogRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !log.Enabled(r.Context(), slog.LevelDebug) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		if rec.hijacked {
			status = http.StatusSwitchingProtocols
		}
		log.LogAttrs(context.Background(), slog.LevelDebug, "http request",
			slog.String("method", r.Method),
			slog.String("path", RedactedTarget(r.URL)),
			slog.Int("status", status),
			slog.Int64("bytes", rec.bytes),
			slog.Duration("duration", time.Since(start)),
			slog.String("remote", r.RemoteAddr))
	})
}

// secretParams are the query parameters whose values are never logged.
var secretParams = map[string]bool{"token": true, "access_token": true, "jwt": true, "jwt_token": true, "api_key": true, "key": true}

// RedactedTarget is u's path and query with the values of secret
// parameters replaced by "REDACTED" (parameter names are compared without
// case).
func RedactedTarget(u *url.URL) string {
	if u.RawQuery == "" {
		return u.Path
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return u.Path + "?(unparsable query)" // it may hold a token in a form ParseQuery cannot read
	}
	for k := range q {
		if secretParams[strings.ToLower(k)] {
			q[k] = []string{"REDACTED"}
		}
	}
	return u.Path + "?" + q.Encode()
}

// statusRecorder notes the status and size of an answer. It lets a socket
// upgrade take the connection (http.Hijacker, which the WebSocket
// handshake asserts) and passes flushes on.
type statusRecorder struct {
	http.ResponseWriter
	status   int
	bytes    int64
	hijacked bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := s.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("httpapi: the response writer cannot be hijacked")
	}
	c, rw, err := hj.Hijack()
	if err == nil {
		s.hijacked = true
	}
	return c, rw, err
}

// Unwrap gives http.ResponseController the writer underneath.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
