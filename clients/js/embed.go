// Package jsclient embeds the JavaScript client, so that the server's web
// pages use the very file the npm package publishes (internal/web serves it
// at /static/tablecast.js). The npm package ships src/, the README and the
// LICENSE (TestNpmPack checks it).
package jsclient

import _ "embed"

// Module is src/tablecast.js, the client as an ES module.
//
//go:embed src/tablecast.js
var Module []byte
