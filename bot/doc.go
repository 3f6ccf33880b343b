// Package bot is incidentbot's domain: incidents, their alerts and timeline,
// the lifecycle rules (open, acknowledge, resolve...), and the postmortem
// draft. It uses the standard library only and declares the small interfaces
// it needs from the outside world (Store, Runbooks, Chat); adapters in other
// packages implement them.
package bot
