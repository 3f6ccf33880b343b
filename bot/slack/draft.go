package slack

import (
	"context"
	"fmt"
	"strings"

	"github.com/incidentbot/incidentbot/bot"
	slackgo "github.com/slack-go/slack"
)

// postmortem uploads the draft (d.Text, rendered by the worker) into the
// channel as a Markdown file, with a comment saying what it is. The draft
// in the channel is one file: a later upload (an export again, or the
// domain's refresh, bot.DraftRefreshRef) replaces it, and the step after
// the upload deletes the earlier file (files.delete, the bot's own file;
// Slack leaves a tombstone where it was shared). Two steps, each recorded:
// a retried upload is recognised by its delivery, and a delete that did
// not happen is tried again.
func (c *Client) postmortem(ctx context.Context, inc *incident, d bot.Delivery) (result, error) {
	if inc.ChannelID == "" {
		return result{}, fmt.Errorf("%w: %s has no Slack channel", bot.ErrConflict, inc.Key())
	}
	if d.ID == 0 || inc.Chat.DraftDelivery != d.ID {
		return c.uploadDraft(ctx, inc, d)
	}
	if len(inc.Chat.OldDrafts) > 0 {
		return c.deleteOldDraft(ctx, inc)
	}
	return result{}, nil
}

// maxOldDrafts bounds the earlier uploads kept to delete: past it, the
// oldest is left in the channel, with a warning.
const maxOldDrafts = 10

func (c *Client) uploadDraft(ctx context.Context, inc *incident, d bot.Delivery) (result, error) {
	if d.Text == "" {
		return result{}, fmt.Errorf("%w: the postmortem draft is empty", bot.ErrInvalid)
	}
	name := strings.ToLower(inc.Key()) + "-postmortem.md"
	comment := "Postmortem draft for " + inc.Key() + ", written from the timeline"
	if d.Ref == bot.DraftRefreshRef {
		comment = "Postmortem draft for " + inc.Key() + ", written again from the timeline as it is now; it replaces the earlier upload"
	}
	if d.Actor != "" {
		comment += " for " + mention(d.Actor)
	}
	comment += ". Everything marked TODO is for the team to write."
	if page := draftPage(c.o.PublicURL, inc.ID); page != "" {
		comment += " The latest draft is always at " + link(page, "this link") + "."
	}
	var file *slackgo.FileSummary
	err := c.call(ctx, "files.uploadV2", "", func(ctx context.Context) (err error) {
		file, err = c.api.UploadFileContext(ctx, slackgo.UploadFileParameters{
			Filename: name, FileSize: len(d.Text), Content: d.Text, Title: inc.Key() + " postmortem draft",
			Channel: inc.ChannelID, InitialComment: comment, SnippetType: "markdown",
		})
		return err
	})
	if err != nil {
		return result{}, err
	}
	st := state(inc)
	if st.Draft != "" {
		st.OldDrafts = append(st.OldDrafts, st.Draft)
	}
	res := result{File: name, State: st}
	if n := len(st.OldDrafts) - maxOldDrafts; n > 0 {
		res.Warning = fmt.Sprintf("could not remove %d earlier uploads of the postmortem draft; they stay in the channel", n)
		st.OldDrafts = st.OldDrafts[n:]
	}
	st.Draft, st.DraftDelivery = "", d.ID
	if file != nil {
		st.Draft = file.ID
	}
	res.More = len(st.OldDrafts) > 0
	return res, nil
}

// deleteOldDraft deletes the oldest earlier upload of the draft. A file
// gone already counts as deleted; one Slack will not delete is left, with
// a warning.
func (c *Client) deleteOldDraft(ctx context.Context, inc *incident) (result, error) {
	id := inc.Chat.OldDrafts[0]
	err := c.call(ctx, "files.delete", "", func(ctx context.Context) error {
		return c.api.DeleteFileContext(ctx, id)
	})
	st := state(inc)
	st.OldDrafts = st.OldDrafts[1:]
	res := result{State: st, More: len(st.OldDrafts) > 0}
	switch code := errorCode(err); {
	case err == nil, code == "file_not_found", code == "file_deleted":
	case permanent(err):
		res.Warning = fmt.Sprintf("could not remove the earlier upload of the postmortem draft: %v", err)
	default:
		return result{}, err
	}
	return res, nil
}
