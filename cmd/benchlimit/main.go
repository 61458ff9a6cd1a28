// Command benchlimit is the yardstick of `make bench`: the least a Go server
// must do to answer patd's validate route the way patd does. It is net/http
// with a route, the caller's secret compared in constant time, the body read
// with a size limit and decoded with encoding/json, and the answer taken from
// a map of tokens to answer bodies; and nothing else (no store, no cache
// expiry, no limits, no metrics, no log). patd's rows in the bench table are
// given as ratios to what this server does on the same machine, under the
// same load, in the same run: the machine's limit for this protocol.
//
//	benchlimit -addr 127.0.0.1:9000 -tokens FILE   (secret in BENCHLIMIT_SECRET)
//
// FILE holds one token per line; each answers 200 with a VALID body of patd's
// shape, anything else 401 NOT_FOUND.
package main

import (
	"bufio"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"time"
)

type validAnswer struct {
	Valid          bool    `json:"valid"`
	Active         bool    `json:"active"`
	Code           string  `json:"code"`
	UserID         string  `json:"userId"`
	TokenID        string  `json:"tokenId"`
	OrganizationID *string `json:"organizationId"`
	Name           string  `json:"name"`
	Sub            string  `json:"sub"`
	Exp            *int64  `json:"exp"`
	Iat            int64   `json:"iat"`
	TokenType      string  `json:"token_type"`
}

var notFound = []byte(`{"valid":false,"active":false,"code":"NOT_FOUND"}`)

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "address to listen on")
	tokens := flag.String("tokens", "", "file of valid tokens, one per line")
	flag.Parse()
	secret := os.Getenv("BENCHLIMIT_SECRET")
	if secret == "" {
		log.Fatal("benchlimit: BENCHLIMIT_SECRET is required")
	}
	answers, err := load(*tokens)
	if err != nil {
		log.Fatal("benchlimit: ", err)
	}
	want := []byte("Bearer " + secret)

	mux := http.NewServeMux()
	mux.HandleFunc("POST /validate", func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			http.Error(w, `{"code":"INVALID_SERVICE_CREDENTIALS"}`, http.StatusForbidden)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4<<10))
		if err != nil {
			http.Error(w, `{"code":"BAD_REQUEST"}`, http.StatusBadRequest)
			return
		}
		var req struct {
			Token *string `json:"token"`
		}
		if err := json.Unmarshal(body, &req); err != nil || req.Token == nil {
			http.Error(w, `{"code":"BAD_REQUEST"}`, http.StatusBadRequest)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		if ans, ok := answers[*req.Token]; ok {
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(ans)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write(notFound)
	})
	// The same timeouts as patd's server.
	srv := &http.Server{
		Addr:              *addr,
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal("benchlimit: ", err)
	}
}

// load reads the token file into answers of patd's VALID shape.
func load(path string) (map[string][]byte, error) {
	answers := map[string][]byte{}
	if path == "" {
		return answers, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for i := 0; sc.Scan(); i++ {
		if sc.Text() == "" {
			continue
		}
		id := "0190a1b2-c3d4-7e5f-8a9b-" + fmt.Sprintf("%012d", i)
		b, err := json.Marshal(validAnswer{
			Valid: true, Active: true, Code: "VALID",
			UserID: "bench-user-" + strconv.Itoa(i), TokenID: id, Name: "bench " + strconv.Itoa(i),
			Sub: "bench-user-" + strconv.Itoa(i), Iat: time.Now().Unix(), TokenType: "personal_access_token",
		})
		if err != nil {
			return nil, err
		}
		answers[sc.Text()] = b
	}
	return answers, sc.Err()
}
