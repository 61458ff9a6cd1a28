package graph

import (
	"fmt"

	"github.com/alternatefutures/patd/graph/model"
	"github.com/alternatefutures/patd/internal/pat"
)

// eventActions names each audit action of the security log in the schema.
// pat.LogActions lists exactly these (TestEveryEventActionHasAName), so the
// log never holds an action the enum cannot carry.
var eventActions = map[pat.Action]model.PersonalAccessTokenEventAction{
	pat.ActionCreate:    model.PersonalAccessTokenEventActionCreated,
	pat.ActionDelete:    model.PersonalAccessTokenEventActionDeleted,
	pat.ActionRotate:    model.PersonalAccessTokenEventActionRotated,
	pat.ActionRevokeAll: model.PersonalAccessTokenEventActionRevokedAll,
	pat.ActionCleanup:   model.PersonalAccessTokenEventActionExpired,
	pat.ActionLeaked:    model.PersonalAccessTokenEventActionLeaked,
	pat.ActionImport:    model.PersonalAccessTokenEventActionImported,
}

func toEventList(p pat.LogPage) (*model.PersonalAccessTokenEventList, error) {
	l := &model.PersonalAccessTokenEventList{
		Data:       make([]*model.PersonalAccessTokenEvent, len(p.Entries)),
		TotalCount: p.TotalCount,
		PageInfo:   &model.PersonalAccessTokenPageInfo{HasNextPage: p.HasNextPage},
	}
	for i, e := range p.Entries {
		action, ok := eventActions[e.Action]
		if !ok {
			return nil, fmt.Errorf("audit action %q has no name in the schema", e.Action)
		}
		l.Data[i] = &model.PersonalAccessTokenEvent{
			ID:        e.ID,
			Action:    action,
			TokenID:   e.TokenID,
			TokenName: nonEmpty(e.TokenName),
			Actor:     e.ActorID,
			CreatedAt: e.CreatedAt,
			ClientIP:  nonEmpty(e.ClientIP),
			UserAgent: nonEmpty(e.UserAgent),
		}
	}
	if p.EndCursor != "" {
		l.PageInfo.EndCursor = &p.EndCursor
	}
	return l, nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
