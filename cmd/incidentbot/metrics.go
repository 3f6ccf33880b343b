package main

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/incidentbot/incidentbot/bot"
	botslack "github.com/incidentbot/incidentbot/bot/slack"
	"github.com/incidentbot/incidentbot/store/bolt"
)

// metrics is what incidentbot says about itself at /metrics. It lives in
// main so that bot stays free of the Prometheus client: the domain and the
// adapters report through plain callbacks and main turns them into series.
// deploy/prometheus/rules/incidentbot.rules.yml alerts on these names.
type metrics struct {
	reg        *prometheus.Registry
	commit     prometheus.Histogram
	batch      prometheus.Histogram
	webhooks   *prometheus.CounterVec
	alerts     prometheus.Counter
	duplicates prometheus.Counter
	opened     prometheus.Counter

	slackCalls   *prometheus.CounterVec
	slackSeconds *prometheus.HistogramVec
	slackLimited prometheus.Counter
	toChannel    prometheus.Histogram
}

// webhookOutcomes are the outcome label values of incidentbot_webhooks_total.
var webhookOutcomes = []string{"accepted", "duplicate", "ignored", "rejected", "unavailable"}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.commit = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "incidentbot_store_commit_seconds",
		Help: "Time to write and fsync one store transaction.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)})
	m.batch = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "incidentbot_store_batch_size",
		Help: "Updates grouped into one store commit.", Buckets: prometheus.ExponentialBuckets(1, 2, 9)})
	m.webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "incidentbot_webhooks_total",
		Help: "Alertmanager webhook requests by outcome: accepted, duplicate, ignored (200); " +
			"rejected (4xx, never retried by Alertmanager); unavailable (5xx, not stored, retried)."}, []string{"outcome"})
	m.alerts = prometheus.NewCounter(prometheus.CounterOpts{Name: "incidentbot_alerts_received_total", Help: "Alerts in stored notifications."})
	m.duplicates = prometheus.NewCounter(prometheus.CounterOpts{Name: "incidentbot_duplicate_notifications_total",
		Help: "Notifications that changed nothing (repeats, retries, HA peers)."})
	m.opened = prometheus.NewCounter(prometheus.CounterOpts{Name: "incidentbot_incidents_opened_total", Help: "Incidents opened from alerts."})
	m.slackCalls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "incidentbot_slack_calls_total",
		Help: "Slack Web API calls by method and outcome: ok, expected (an answer the code handles, like name_taken), rate_limited, error."}, []string{"method", "outcome"})
	m.slackSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "incidentbot_slack_call_seconds",
		Help:    "Time Slack took to answer a Web API call, by method.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 12)}, []string{"method"})
	m.slackLimited = prometheus.NewCounter(prometheus.CounterOpts{Name: "incidentbot_slack_rate_limited_total",
		Help: "Slack Web API calls Slack answered with a rate limit (HTTP 429)."})
	m.toChannel = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "incidentbot_webhook_to_channel_seconds",
		Help:    "Time from the webhook that opened an incident to its Slack channel being recorded.",
		Buckets: prometheus.ExponentialBuckets(0.25, 2, 13)})
	m.reg.MustRegister(m.commit, m.batch, m.webhooks, m.alerts, m.duplicates, m.opened,
		m.slackCalls, m.slackSeconds, m.slackLimited, m.toChannel)
	// The rules take increase() of these from the start: a series born at
	// 1 would hide the first rejection.
	for _, o := range webhookOutcomes {
		m.webhooks.WithLabelValues(o)
	}
	return m
}

// onCommit feeds the store's per-commit figures into histograms.
func (m *metrics) onCommit(c bolt.Commit) {
	if c.Err == nil {
		m.commit.Observe(c.Took.Seconds())
		m.batch.Observe(float64(c.Updates))
	}
}

// watchStore adds the series read from the store at scrape time.
func (m *metrics) watchStore(store *bolt.Store) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "incidentbot_store_queue_depth",
		Help: "Updates waiting for the store's writer."}, func() float64 { return float64(store.Stats().Queued) }))
	m.reg.MustRegister(newStoreCollector(store, time.Now))
}

// observeWebhook counts one Alertmanager request (webhooks.Config.OnWebhook),
// which is the only place incidentbot_webhooks_total is counted.
func (m *metrics) observeWebhook(status int, res bot.IngestResult) {
	m.webhooks.WithLabelValues(webhookOutcome(status, res)).Inc()
}

// webhookOutcome names how an Alertmanager request ended, from its status
// and, for a 200, what the notification did.
func webhookOutcome(status int, res bot.IngestResult) string {
	switch {
	case status >= 500:
		return "unavailable"
	case status >= 400:
		return "rejected"
	case res.Changes > 0:
		return "accepted"
	case res.Incident == 0:
		return "ignored"
	}
	return "duplicate"
}

// observeIngest counts what a stored notification carried and did
// (bot.Options.OnIngest). Requests are counted by observeWebhook.
func (m *metrics) observeIngest(alerts int, res bot.IngestResult, err error) {
	if err != nil {
		return
	}
	m.alerts.Add(float64(alerts))
	if res.Opened {
		m.opened.Inc()
	}
	if webhookOutcome(http.StatusOK, res) == "duplicate" {
		m.duplicates.Inc()
	}
}

// observeSlackCall counts one Slack Web API call (slack.Options.OnCall).
func (m *metrics) observeSlackCall(c botslack.Call) {
	m.slackCalls.WithLabelValues(c.Method, c.Outcome).Inc()
	m.slackSeconds.WithLabelValues(c.Method).Observe(c.Took.Seconds())
	if c.Outcome == botslack.CallRateLimited {
		m.slackLimited.Inc()
	}
}

// observeChannel times an incident's wait for its channel
// (bot.WorkerOptions.OnChannel). Incidents declared by hand came with no
// webhook and are left out.
func (m *metrics) observeChannel(inc *bot.Incident, _ bot.ChatRecord, at time.Time) {
	if inc.Receiver == "" || inc.CreatedAt.IsZero() {
		return
	}
	m.toChannel.Observe(max(0, at.Sub(inc.CreatedAt).Seconds()))
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// storeCollector reads the store's gauges once per scrape, from the store
// itself, so that they are right after a restart. A read that fails (the
// store is closing) leaves its series out of that scrape instead of
// failing the whole scrape.
type storeCollector struct {
	store                  storeCounts
	now                    func() time.Time
	depth, oldestAge, open *prometheus.Desc
	fileBytes, freeBytes   *prometheus.Desc
}

// storeCounts is what the collector reads: bbolt's and PostgreSQL's
// stores both have it (PostgreSQL's FileStats always fails).
type storeCounts interface {
	OutboxStats() (depth int, oldest time.Time, err error)
	OpenIncidents() (int, error)
	FileStats() (size, free int64, err error)
}

func newStoreCollector(store storeCounts, now func() time.Time) *storeCollector {
	return &storeCollector{store: store, now: now,
		depth: prometheus.NewDesc("incidentbot_outbox_depth",
			"Slack actions accepted but not done yet (the outbox).", nil, nil),
		oldestAge: prometheus.NewDesc("incidentbot_outbox_oldest_age_seconds",
			"How long the oldest Slack action in the outbox has waited; 0 when it is empty.", nil, nil),
		open: prometheus.NewDesc("incidentbot_incidents_open",
			"Incidents not resolved.", nil, nil),
		fileBytes: prometheus.NewDesc("incidentbot_store_file_bytes",
			"Size of the bbolt file; it never shrinks while open.", nil, nil),
		freeBytes: prometheus.NewDesc("incidentbot_store_free_bytes",
			"Bytes of free pages in the bbolt file (freed by deletes), reused before the file grows.", nil, nil),
	}
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.oldestAge
	ch <- c.open
	ch <- c.fileBytes
	ch <- c.freeBytes
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	if depth, oldest, err := c.store.OutboxStats(); err == nil {
		age := 0.0
		if !oldest.IsZero() {
			age = max(0, c.now().Sub(oldest).Seconds())
		}
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(depth))
		ch <- prometheus.MustNewConstMetric(c.oldestAge, prometheus.GaugeValue, age)
	}
	if n, err := c.store.OpenIncidents(); err == nil {
		ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(n))
	}
	if size, free, err := c.store.FileStats(); err == nil {
		ch <- prometheus.MustNewConstMetric(c.fileBytes, prometheus.GaugeValue, float64(size))
		ch <- prometheus.MustNewConstMetric(c.freeBytes, prometheus.GaugeValue, float64(free))
	}
}
