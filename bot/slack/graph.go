package slack

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/incidentbot/incidentbot/bot"
	slackgo "github.com/slack-go/slack"
)

// graph uploads the metric graph the worker drew (d.File) into the
// incident's channel as a PNG, which Slack previews inline. Without a
// channel (opening failed) or with an archived one there is nobody to
// show it to, which is no failure.
func (c *Client) graph(ctx context.Context, inc *incident, d bot.Delivery) (result, error) {
	if inc.ChannelID == "" || len(d.File) == 0 {
		return result{}, nil
	}
	name := strings.ToLower(inc.Key()) + "-graph.png"
	when := "now"
	if !inc.Open() {
		when = "at resolution"
	}
	comment := fmt.Sprintf("Metric graph of the alert expressions of %s %s, from an hour before detection; the lines mark when alerts fired and the incident's key times.", inc.Key(), when)
	if pub := strings.TrimRight(c.o.PublicURL, "/"); pub != "" {
		comment += " The latest is always at " + link(pub+"/api/v1/incidents/"+strconv.FormatInt(inc.ID, 10)+"/graph.png", "this link") + "."
	}
	err := c.call(ctx, "files.uploadV2", "", func(ctx context.Context) error {
		_, err := c.api.UploadFileContext(ctx, slackgo.UploadFileParameters{
			Filename: name, FileSize: len(d.File), Reader: bytes.NewReader(d.File), Title: clip(d.Text, 200),
			Channel: inc.ChannelID, InitialComment: comment, AltTxt: "Metric graph of " + clip(d.Text, 900),
		})
		return err
	})
	if channelGone(err) {
		c.log.Info("slack: not posting a graph into a gone channel", "incident", inc.ID, "err", err)
		return result{}, nil
	}
	return result{}, err
}

// profile uploads a stored heap profile (d.File, read by the worker) into
// the incident's channel, named so that `go tool pprof -base` can be run
// on the downloads as the comment (d.Text) says.
func (c *Client) profile(ctx context.Context, inc *incident, d bot.Delivery) (result, error) {
	if inc.ChannelID == "" || len(d.File) == 0 {
		return result{}, nil
	}
	name := strings.ToLower(inc.Key()) + "-heap-" + profileN(d.Text) + ".pb.gz"
	err := c.call(ctx, "files.uploadV2", "", func(ctx context.Context) error {
		_, err := c.api.UploadFileContext(ctx, slackgo.UploadFileParameters{
			Filename: name, FileSize: len(d.File), Reader: bytes.NewReader(d.File), Title: name,
			Channel: inc.ChannelID, InitialComment: clip(d.Text, 1000),
		})
		return err
	})
	if channelGone(err) {
		return result{}, nil
	}
	return result{}, err
}

// profileN reads the capture number out of "Heap profile <n> of ...".
func profileN(text string) string {
	f := strings.Fields(text)
	if len(f) > 2 {
		if _, err := strconv.Atoi(f[2]); err == nil {
			return f[2]
		}
	}
	return "profile"
}
