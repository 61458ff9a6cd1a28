// Package model holds the GraphQL models that gqlgen generates and the Date
// scalar's marshalling.
package model

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/alternatefutures/patd/internal/date"
)

// MarshalDate writes a Date: RFC 3339 in UTC with milliseconds.
func MarshalDate(t time.Time) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(date.Format(t)))
	})
}

// UnmarshalDate reads a Date: an RFC 3339 string or integer epoch milliseconds.
func UnmarshalDate(v any) (time.Time, error) {
	t, err := date.Parse(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("Date: %w", err)
	}
	return t, nil
}
