package slack

import (
	"strconv"
	"strings"
)

// incidentPage is the incident's page in the web view, under incidentbot's
// public URL; "" without one. Links go to the web view rather than the JSON
// API because a person clicks them: the API wants a bearer token, the web
// view signs a browser in.
func incidentPage(publicURL string, id int64) string {
	pub := strings.TrimRight(publicURL, "/")
	if pub == "" {
		return ""
	}
	return pub + "/incidents/" + strconv.FormatInt(id, 10)
}

// draftPage is the postmortem draft on the incident's page.
func draftPage(publicURL string, id int64) string {
	if p := incidentPage(publicURL, id); p != "" {
		return p + "#postmortem"
	}
	return ""
}
