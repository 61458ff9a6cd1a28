package graph

import (
	"github.com/alternatefutures/patd/graph/model"
	"github.com/alternatefutures/patd/internal/pat"
)

func toModel(t *pat.Token) *model.PersonalAccessToken {
	if t == nil {
		return nil
	}
	return &model.PersonalAccessToken{
		ID:             t.ID,
		OrganizationID: t.OrganizationID,
		Name:           t.Name,
		MaskedToken:    t.MaskedToken,
		ExpiresAt:      t.ExpiresAt,
		LastUsedAt:     t.LastUsedAt,
		CreatedAt:      t.CreatedAt,
		UpdatedAt:      t.UpdatedAt,
		User:           &model.User{ID: t.UserID},
	}
}

func toCreated(c pat.Created) *model.PersonalAccessTokenCreated {
	return &model.PersonalAccessTokenCreated{
		ID:             c.ID,
		OrganizationID: c.OrganizationID,
		Name:           c.Name,
		Token:          c.Secret,
		MaskedToken:    c.MaskedToken,
		ExpiresAt:      c.ExpiresAt,
		LastUsedAt:     c.LastUsedAt,
		CreatedAt:      c.CreatedAt,
		UpdatedAt:      c.UpdatedAt,
	}
}

func toList(p pat.Page) *model.PersonalAccessTokenList {
	l := &model.PersonalAccessTokenList{
		Data:       make([]*model.PersonalAccessToken, len(p.Tokens)),
		TotalCount: p.TotalCount,
		PageInfo:   &model.PersonalAccessTokenPageInfo{HasNextPage: p.HasNextPage},
	}
	for i := range p.Tokens {
		l.Data[i] = toModel(&p.Tokens[i])
	}
	if p.EndCursor != "" {
		l.PageInfo.EndCursor = &p.EndCursor
	}
	return l
}

// pageSize is the number of entries a list field asks for: first, or def
// when the query does not say.
func pageSize(first *int, def int) int {
	if first == nil {
		return def
	}
	return *first
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
