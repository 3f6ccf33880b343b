package main

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/store/bolt"
)

// metrics is what incidentbot says about itself at /metrics. It lives in
// main so that bot stays free of the Prometheus client: the domain reports
// through plain callbacks and main turns them into series.
type metrics struct {
	reg          *prometheus.Registry
	commit       prometheus.Histogram
	batch        prometheus.Histogram
	webhooks     *prometheus.CounterVec
	alerts       prometheus.Counter
	duplicates   prometheus.Counter
	opened       prometheus.Counter
	webhookToAck prometheus.Histogram
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.commit = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "incidentbot_store_commit_seconds",
		Help: "Time to write and fsync one store transaction.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)})
	m.batch = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "incidentbot_store_batch_size",
		Help: "Updates grouped into one store commit.", Buckets: prometheus.ExponentialBuckets(1, 2, 9)})
	m.webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "incidentbot_webhooks_total",
		Help: "Alertmanager notifications by outcome (accepted, duplicate, ignored, rejected, unavailable)."}, []string{"outcome"})
	m.alerts = prometheus.NewCounter(prometheus.CounterOpts{Name: "incidentbot_alerts_received_total", Help: "Alerts in accepted notifications."})
	m.duplicates = prometheus.NewCounter(prometheus.CounterOpts{Name: "incidentbot_duplicate_notifications_total",
		Help: "Notifications that changed nothing (repeats, retries, HA peers)."})
	m.opened = prometheus.NewCounter(prometheus.CounterOpts{Name: "incidentbot_incidents_opened_total", Help: "Incidents opened from alerts."})
	m.reg.MustRegister(m.commit, m.batch, m.webhooks, m.alerts, m.duplicates, m.opened)
	for _, o := range []string{"accepted", "duplicate", "ignored", "rejected", "unavailable"} {
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
func (m *metrics) watchStore(store *bolt.Store, svc *bot.Service) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "incidentbot_store_queue_depth",
		Help: "Updates waiting for the store's writer."}, func() float64 { return float64(store.Stats().Queued) }))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "incidentbot_incidents_open",
		Help: "Incidents not resolved."}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		open := true
		list, err := svc.Incidents(ctx, bot.IncidentFilter{Open: &open})
		if err != nil {
			return -1
		}
		return float64(len(list))
	}))
}

// observeIngest counts one notification's outcome.
func (m *metrics) observeIngest(alerts int, res bot.IngestResult, err error) {
	switch {
	case err == nil && res.Opened:
		m.opened.Inc()
		fallthrough
	case err == nil && res.Changes > 0:
		m.webhooks.WithLabelValues("accepted").Inc()
	case err == nil && res.Incident == 0:
		m.webhooks.WithLabelValues("ignored").Inc()
	case err == nil:
		m.webhooks.WithLabelValues("duplicate").Inc()
		m.duplicates.Inc()
	case isInvalid(err):
		m.webhooks.WithLabelValues("rejected").Inc()
		return
	default:
		m.webhooks.WithLabelValues("unavailable").Inc()
		return
	}
	m.alerts.Add(float64(alerts))
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

func isInvalid(err error) bool { return errors.Is(err, bot.ErrInvalid) }
