package main

import (
	"fmt"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/webhooks"
)

// accessFile is the config's access section (SPEC "Access"):
//
//	access:
//	  act: members          # or anyone (the default)
//	  admins: [U0LEAD]      # may act on every incident
type accessFile struct {
	Act    string   `yaml:"act"`
	Admins []string `yaml:"admins"`
}

func (a accessFile) compile() (webhooks.Access, error) {
	out := webhooks.Access{Act: webhooks.ActAnyone}
	switch a.Act {
	case "", webhooks.ActAnyone:
	case webhooks.ActMembers:
		out.Act = webhooks.ActMembers
	default:
		return out, fmt.Errorf("config access.act %q: want anyone or members", a.Act)
	}
	for i, u := range a.Admins {
		id := bot.PersonID(u)
		if id == "" {
			return out, fmt.Errorf("config access.admins[%d] %q: want a Slack user ID like U0123ABCD", i, u)
		}
		out.Admins = append(out.Admins, id)
	}
	return out, nil
}
