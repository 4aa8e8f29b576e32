// Package jsclient embeds the JavaScript client, so that the server's web
// pages use the very files the npm package publishes (internal/web serves
// them at /static/tablecast.js and /static/tablecast/). The npm package
// ships src/, the README and the LICENSE (TestNpmPack checks it).
package jsclient

import (
	"embed"
	"io/fs"
)

// Module is src/tablecast.js, the client's entry module. It imports its
// parts from ./tablecast/, which Parts holds.
//
//go:embed src/tablecast.js
var Module []byte

//go:embed src/tablecast/*.js
var parts embed.FS

// Parts returns the modules tablecast.js imports, by their names in
// ./tablecast/ (errors.js, options.js, ...).
func Parts() fs.FS {
	sub, _ := fs.Sub(parts, "src/tablecast") // a constant path within the embed: no error
	return sub
}
