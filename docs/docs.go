// Package docs holds tablecast's reference documents. The OpenAPI document
// of the HTTP API (openapi.json) is embedded in the binary and served at
// GET /api/openapi.json; the Markdown files are read where they are.
package docs

import _ "embed"

// OpenAPI is docs/openapi.json, the OpenAPI 3.1 document of the HTTP API.
//
//go:embed openapi.json
var OpenAPI []byte
