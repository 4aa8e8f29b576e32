// Package httpapi serves tablecast's HTTP API: the admin endpoints of the
// Teable seed, the operations endpoints, and (later) the table store's REST
// API. Handlers validate everything they are given and answer errors in one
// shape: {"error":{"code","message","details"?}}.
package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tablecast/tablecast/internal/hub"
)

// apiError is an error a caller is shown: a machine word, a message written
// for callers, and per-field details. The cause stays in the log.
type apiError struct {
	status  int
	code    string
	message string
	details map[string]string
	// retryAfter, in seconds, is sent as Retry-After (with a 503).
	retryAfter int
}

// unavailable answers a request the node cannot serve for now (the broker
// or another dependency is away): 503 with Retry-After.
func unavailable(message string) *apiError {
	return &apiError{status: http.StatusServiceUnavailable, code: "unavailable", message: message, retryAfter: 1}
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func badRequest(details map[string]string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "invalid_request", message: "the request is not valid", details: details}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers err; anything but an *apiError is a 500 whose cause is
// logged, never shown.
func writeError(w http.ResponseWriter, log *slog.Logger, err error) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, hub.ErrUnavailable):
		log.Warn("http request refused for now", "err", err)
		ae = unavailable("temporarily unavailable: retry")
	default:
		log.Error("http request failed", "err", err)
		ae = &apiError{status: http.StatusInternalServerError, code: "internal", message: "internal error"}
	}
	if ae.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ae.retryAfter))
	}
	body := map[string]any{"code": ae.code, "message": ae.message}
	if len(ae.details) > 0 {
		body["details"] = ae.details
	}
	writeJSON(w, ae.status, map[string]any{"error": body})
}

// decodeBody reads a JSON object into v: at most limit bytes, no unknown
// fields, nothing after the object.
//
// A body that is not valid UTF-8 is refused (400), as the sockets refuse
// such frames (1007): JSON decoding would otherwise store U+FFFD in place
// of each bad byte.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return bodyError(err)
	}
	if !utf8.Valid(raw) {
		return badRequest(map[string]string{"body": "is not valid UTF-8"})
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest(map[string]string{"body": "must hold exactly one JSON object"})
	}
	return nil
}

func bodyError(err error) error {
	var tooBig *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &tooBig):
		return &apiError{status: http.StatusRequestEntityTooLarge, code: "too_large", message: fmt.Sprintf("the body is larger than %d bytes", tooBig.Limit)}
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return badRequest(map[string]string{field: "must be " + jsonTypeName(typeErr.Type.Kind().String())})
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest(map[string]string{"body": "is not valid JSON"})
	case errors.Is(err, io.EOF):
		return badRequest(map[string]string{"body": "is empty: send a JSON object"})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return badRequest(map[string]string{name: "is not a known field"})
	}
	return badRequest(map[string]string{"body": "is not valid JSON"})
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	case "bool":
		return "a boolean"
	default:
		return "a number"
	}
}

// Mux is where handlers register their routes: an *http.ServeMux, or one
// that also records the patterns (the server lists its routes for the
// OpenAPI test).
type Mux interface {
	Handle(pattern string, handler http.Handler)
	HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request))
}

var _ Mux = (*http.ServeMux)(nil)
