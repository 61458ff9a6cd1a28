// Package graphiql serves GraphiQL, the in-browser GraphQL IDE, for
// development mode, entirely from the binary: the page, its bootstrap script
// and the browser builds of graphiql, react and react-dom vendored from npm
// at the versions pinned in package.json (vendor.mjs, run by make
// generate). Nothing is loaded from a CDN, so it works offline and under a
// Content-Security-Policy that allows only patd itself.
package graphiql

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

//go:embed assets
var assets embed.FS

// Prefix is where the assets are served; the route table serves
// GET Prefix+"{file...}" with Assets.
const Prefix = "/graphiql/"

// csp allows what GraphiQL needs and nothing from elsewhere: its scripts
// and styles from patd, inline styles (its components inject them), the
// fonts and icons it inlines as data: URLs, and requests to patd.
const csp = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self' data:; " +
	"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

type asset struct {
	body        []byte
	contentType string
	etag        string
}

// files are the assets by their path under Prefix (not the page itself),
// read and hashed on first use: production never serves them.
var files = sync.OnceValue(func() map[string]asset {
	out := map[string]asset{}
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == "assets/index.html" {
			return err
		}
		b, err := assets.ReadFile(p)
		if err != nil {
			return err
		}
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "application/octet-stream"
		}
		sum := sha256.Sum256(b)
		out[strings.TrimPrefix(p, "assets/")] = asset{body: b, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		panic("graphiql: embedded assets: " + err.Error())
	}
	return out
})

// Page serves GraphiQL's page, querying endpoint.
func Page(endpoint string) http.Handler {
	page, err := assets.ReadFile("assets/index.html")
	if err != nil {
		panic("graphiql: embedded page: " + err.Error())
	}
	body := []byte(strings.ReplaceAll(string(page), "{{ENDPOINT}}", html.EscapeString(endpoint)))
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", csp)
		h.Set("Cache-Control", "no-store")
		_, _ = w.Write(body)
	})
}

// Assets serves the page's scripts, styles and licences at Prefix+name, and
// hands any other name to notFound (the server's own 404). They are
// revalidated on every load (ETag, 304): the versions change with the
// binary, under the same names.
func Assets(notFound http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := files()[strings.TrimPrefix(r.URL.Path, Prefix)]
		if !ok {
			notFound.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		// Answers If-None-Match with 304 against the ETag.
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	})
}
