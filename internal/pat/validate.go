package pat

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/alternatefutures/patd/internal/auth"
	"github.com/alternatefutures/patd/internal/token"
)

// Code is the outcome of a validation.
type Code string

// Validation outcomes, as the validate route reports them.
const (
	Valid       Code = "VALID"
	NotFound    Code = "NOT_FOUND"
	Expired     Code = "EXPIRED"
	Malformed   Code = "MALFORMED"
	RateLimited Code = "RATE_LIMITED"
)

// Validation is the answer to "is this token valid, and whose is it?".
type Validation struct {
	Code      Code
	UserID    string
	TokenID   string
	Name      string
	ExpiresAt *time.Time
	CreatedAt time.Time
	// RetryAfter is set when Code is RateLimited.
	RetryAfter time.Duration
}

// Validate checks a presented token. A malformed token is refused before any
// I/O. The error is ErrUnavailable (wrapped) when the store cannot answer.
func (s *Service) Validate(ctx context.Context, tok string) (Validation, error) {
	if token.Classify(tok) == token.Malformed {
		return Validation{Code: Malformed}, nil
	}
	h := token.Hash(tok)
	row, err := s.q.GetTokenByHash(ctx, h[:])
	if errors.Is(err, pgx.ErrNoRows) {
		return Validation{Code: NotFound}, nil
	}
	if err != nil {
		return Validation{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	v := Validation{
		Code:      Valid,
		UserID:    row.UserID,
		TokenID:   row.ID,
		Name:      row.Name,
		ExpiresAt: utcPtr(row.ExpiresAt),
		CreatedAt: row.CreatedAt.UTC(),
	}
	if v.ExpiresAt != nil && !v.ExpiresAt.After(s.now()) {
		return Validation{Code: Expired}, nil
	}
	return v, nil
}

// CheckToken implements auth.TokenChecker, so that a PAT can authenticate
// GraphQL and REST requests through the same checks as the validate route.
func (s *Service) CheckToken(ctx context.Context, tok string) (userID, tokenID string, err error) {
	v, err := s.Validate(ctx, tok)
	if err != nil {
		return "", "", err
	}
	if v.Code != Valid {
		return "", "", fmt.Errorf("%w: %s", auth.ErrInvalidCredentials, v.Code)
	}
	return v.UserID, v.TokenID, nil
}
