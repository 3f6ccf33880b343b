// Package bot is incidentbot's domain: incidents, their alerts and timeline,
// the lifecycle rules (open, acknowledge, resolve...), and the postmortem
// draft. It uses the standard library only and declares the small interfaces
// it needs from the outside world (Store, Runbooks, Chat); adapters in other
// packages implement them.
//
// # What a chat keeps
//
// An Incident names no chat product. What one chat adapter needs to
// remember about an incident (for Slack: the channel, the message and
// headline timestamps, the topic and hashes of what it showed, the runbook
// messages, who it invited, the one-time steps done) is its ChatRecord: a
// room handle and name the domain may show and look up, and Data, bytes
// only the adapter reads. The store keeps one record per (incident,
// adapter) beside the incident (Tx.ChatRecord, Tx.PutChatRecord) and
// indexes each record's room per adapter (Tx.IncidentByRoom), so that a
// slash command or button from a channel finds its incident. The delivery
// worker passes the record to Chat.Deliver and writes the one the adapter
// returns (ChatResult.Record) in the same transaction as the step's
// timeline entries and the outbox change, so a step is still recorded
// exactly once. The domain reads of a result only what is chat-neutral:
// a new room (a channel_created entry), who was invited, the runbook
// posted as a checklist (Incident.Checklists, which the step buttons are
// checked against), the file uploaded, the message pinned, a warning. A
// second chat adapter keeps its own record under its own Name, and the
// Incident does not grow for it.
package bot
