package web

import (
	"context"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/incidentbot/incidentbot/bot"
)

// namesBudget bounds the name lookups of one page. The directory caches
// names, so this matters only for people it has not seen lately: a page
// then shows their user IDs rather than wait on the chat.
const namesBudget = 300 * time.Millisecond

// names looks up the people among who (user IDs; other actors are
// skipped) within namesBudget.
func (h *Handler) names(c *gin.Context, who []string) map[string]string {
	ctx, cancel := context.WithTimeout(ctx(c), namesBudget)
	defer cancel()
	return h.svc.Names(ctx, personIDs(who))
}

// people writes the people a page shows by name: the chat's display names
// where the directory knows them, else their user IDs; bot actors
// (alertmanager, incidentbot, api, web) as they are.
type people map[string]string

// Who writes one person or actor.
func (n people) Who(who string) string {
	id := bot.PersonID(who)
	if id == "" {
		return who
	}
	if name, ok := n[id]; ok {
		return name
	}
	return id
}

// Text writes text with its mentions ("<@U123>") as "@name".
func (n people) Text(s string) string {
	return bot.ReplaceMentions(s, func(id, label string) string {
		if name, ok := n[id]; ok {
			return "@" + name
		}
		if label != "" {
			return "@" + label
		}
		return "@" + id
	})
}

// webActor is who a change made on a page is recorded as: "web", or
// "web:<user>" for a user named by the auth proxy, kept to characters
// that cannot become markup or a mention in the chat.
func webActor(user string) string {
	var b strings.Builder
	for _, r := range user {
		if b.Len() >= 64 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@._+-", r) {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "web"
	}
	return "web:" + b.String()
}
