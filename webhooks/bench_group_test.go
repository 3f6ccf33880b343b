package webhooks

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

// bigGroup is a firing notification of n alerts in one group, about 270
// bytes an alert (a kube-state-metrics storm without max_alerts: 100,000
// alerts are 26 MiB, under the default 32 MiB limit). Alert bump (when >= 0) starts again at start+round
// seconds, a new episode, so that each round changes exactly one alert.
func bigGroup(start time.Time, n, bump, round int) []byte {
	b := make([]byte, 0, 220*n+512)
	b = append(b, `{"receiver":"team\\.ops","status":"firing","alerts":[`...)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		at := start
		if i == bump {
			at = start.Add(time.Duration(round) * time.Second)
		}
		b = append(b, `{"status":"firing","labels":{"alertname":"KubePodNotReady","namespace":"prod","pod":"web-`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `","severity":"warning"},"annotations":{"summary":"web-`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, ` not ready"},"startsAt":"`...)
		b = at.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prom:9090/g","fingerprint":"`...)
		b = fmt.Appendf(b, "%016x", 0xb16000000+i)
		b = append(b, `"}`...)
	}
	b = append(b, `],"groupLabels":{"alertname":"KubePodNotReady"},"commonLabels":{"alertname":"KubePodNotReady","namespace":"prod","severity":"warning"},`+
		`"commonAnnotations":{},"externalURL":"http://alertmanager:9093","version":"4","groupKey":"{}:{alertname=\"KubePodNotReady\"}","truncatedAlerts":0}`...)
	return b
}

// BenchmarkBigGroup measures one notification of a group of n alerts
// through the whole router: "receiver" decodes and validates it and stores
// nothing (the decode-only baseline); "repeat" sends the group's last
// notification again to the real service on a bbolt file; "open" sends
// it as the first notification of a new group (an incident with n alerts
// and n entries; above 500 alerts written in slices); "change" sends
// it with one alert firing again (a new episode: an entry, a write).
//
//	go test ./webhooks -run '^$' -bench BigGroup -benchtime 5x
func BenchmarkBigGroup(b *testing.B) {
	for _, n := range []int{10, 1000, 10000, 100000} {
		b.Run(fmt.Sprintf("alerts=%d", n), func(b *testing.B) {
			e := newEnv(b, func(c *Config) { c.WebhookToken = "" })
			start := e.now.Add(-time.Hour)
			body := bigGroup(start, n, -1, 0)
			b.Run("receiver", func(b *testing.B) {
				ingest := e.srv.ingest
				e.srv.ingest = func(context.Context, *bot.Notification) (bot.IngestResult, error) { return bot.IngestResult{}, nil }
				defer func() { e.srv.ingest = ingest }()
				b.SetBytes(int64(len(body)))
				for b.Loop() {
					postWebhook(b, e.srv, body)
				}
			})
			postWebhook(b, e.srv, body) // opens the incident
			b.Run("repeat", func(b *testing.B) {
				b.SetBytes(int64(len(body)))
				for b.Loop() {
					postWebhook(b, e.srv, body)
				}
			})
			b.Run("open", func(b *testing.B) {
				b.SetBytes(int64(len(body)))
				for b.Loop() {
					b.StopTimer()
					fresh := newGroup(body, int(opened.Add(1)))
					b.StartTimer()
					postWebhook(b, e.srv, fresh)
				}
			})
			b.Run("change", func(b *testing.B) {
				b.SetBytes(int64(len(body)))
				round := 0
				for b.Loop() {
					b.StopTimer()
					round++
					changed := bigGroup(start, n, round%n, round)
					b.StartTimer()
					postWebhook(b, e.srv, changed)
				}
			})
		})
	}
}

// BenchmarkSmallDuringBigMerge sends a small webhook (5 alerts, a group of
// its own, one alert changed each time) every 10 ms while another
// goroutine keeps sending a 100,000-alert group with one alert changed,
// and reports the small ones' latency: what a 100k-alert group costs
// everybody else.
//
//	go test ./webhooks -run '^$' -bench SmallDuringBigMerge -benchtime 200x
func BenchmarkSmallDuringBigMerge(b *testing.B) {
	benchSmallDuringBig(b, func(start time.Time, n, round int) []byte { return bigGroup(start, n, round%n, round) })
}

// BenchmarkSmallDuringBigOpen is the same while the other goroutine keeps
// opening new 100,000-alert groups: each a first notification, written
// in slices of 500 alerts.
//
//	go test ./webhooks -run '^$' -bench SmallDuringBigOpen -benchtime 200x
func BenchmarkSmallDuringBigOpen(b *testing.B) {
	benchSmallDuringBig(b, func(start time.Time, n, _ int) []byte { return newGroup(bigGroup(start, n, -1, 0), int(opened.Add(1))) })
}

func benchSmallDuringBig(b *testing.B, next func(start time.Time, n, round int) []byte) {
	e := newEnv(b, func(c *Config) { c.WebhookToken = "" })
	start := e.now.Add(-time.Hour)
	const n = 100000
	postWebhook(b, e.srv, bigGroup(start, n, -1, 0))
	bodies := make(chan []byte, 1)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	big := 0
	wg.Go(func() { // the next body is made while the current one is sent
		defer close(bodies)
		for round := 1; ; round++ {
			select {
			case bodies <- next(start, n, round):
			case <-stop:
				return
			}
		}
	})
	wg.Go(func() {
		for body := range bodies {
			select {
			case <-stop:
				return
			default:
			}
			postWebhook(b, e.srv, body)
			big++
		}
	})
	var lat []time.Duration
	round := 0
	for b.Loop() {
		round++
		body := smallGroup(bigGroup(start, 5, round%5, round))
		t0 := time.Now()
		postWebhook(b, e.srv, body)
		lat = append(lat, time.Since(t0))
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	slices.Sort(lat)
	q := func(f float64) float64 { return float64(lat[int(f*float64(len(lat)-1))]) / 1e6 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
	b.ReportMetric(float64(big), "big-sent")
}

// opened numbers the groups newGroup makes, across runs of a benchmark
// (-count), so that each is new.
var opened atomic.Int64

// newGroup moves a bigGroup body to a new group of its own, number round.
func newGroup(body []byte, round int) []byte {
	return []byte(replaceLast(string(body), `KubePodNotReady\"}"`, `KubePodNotReady\", open=\"`+strconv.Itoa(round)+`\"}"`))
}

// smallGroup moves a bigGroup body to a group of its own.
func smallGroup(body []byte) []byte {
	return []byte(replaceLast(string(body), `KubePodNotReady\"}"`, `KubePodNotReady\", small=\"1\"}"`))
}

func replaceLast(s, old, cur string) string {
	i := len(s) - len(old)
	for ; i >= 0; i-- {
		if s[i:i+len(old)] == old {
			return s[:i] + cur + s[i+len(old):]
		}
	}
	return s
}
