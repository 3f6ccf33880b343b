// Package webhooks is incidentbot's inbound HTTP side: the Alertmanager
// webhook receiver, Slack's slash commands, interactions and events (over
// HTTP or Socket Mode), the read-only JSON API and the health endpoints.
//
// It decodes, authenticates and validates what arrives, then hands it to
// bot.Service; the rules live in bot. Domain errors become HTTP status codes
// in exactly one place, statusOf.
package webhooks
