package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/alternatefutures/patd/internal/auth"
)

// BenchmarkAuthenticateJWT measures what every JWT-authenticated request pays
// to have its Authorization header checked, for each kind of JWT.
func BenchmarkAuthenticateJWT(b *testing.B) {
	now := time.Now()
	for _, bc := range []struct {
		name   string
		claims jwt.MapClaims
	}{
		{"session", jwt.MapClaims{
			"sub": "user-1", "userId": "user-1", "type": "access",
			"iss": testJWT.Issuer, "aud": testJWT.Audience,
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		}},
		// As the backend mints it from a PAT: no issuer, no audience.
		{"sdk-access", jwt.MapClaims{
			"userId": "user-1", "projectId": "proj-1", "type": "sdk-access",
			"iat": now.Unix(), "exp": now.Add(8 * time.Minute).Unix(),
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, bc.claims).SignedString(testJWT.Secret)
			if err != nil {
				b.Fatal(err)
			}
			a := auth.NewAuthenticator(testJWT, nil)
			header := "Bearer " + s
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.Authenticate(context.Background(), header); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
