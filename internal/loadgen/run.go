package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Target is the webhook endpoint under load.
type Target struct {
	// URL is the service's base URL (http://127.0.0.1:port); only
	// loopback addresses are accepted.
	URL string
	// Token is sent as the bearer token when set.
	Token string
	// UserAgent defaults to Alertmanager's.
	UserAgent string
}

// CheckLoopback refuses a URL that is not on this machine: loadgen is for
// measuring a local service, never for loading someone else's.
func CheckLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("url %q: %w", raw, err)
	}
	ip := net.ParseIP(u.Hostname())
	if u.Scheme != "http" || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("url %q: want http://127.0.0.1:<port> (loadgen only loads this machine)", raw)
	}
	return nil
}

// client is shared by the workers of one run, with a kept-alive connection
// per worker, as Alertmanager keeps its connections.
func client(conns int) *http.Client {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: time.Minute,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// send posts one notification and returns the HTTP status (0 for a
// network error).
func (t Target) send(ctx context.Context, c *http.Client, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL+"/webhooks/alertmanager", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	ua := t.UserAgent
	if ua == "" {
		ua = "Alertmanager/0.31.1"
	}
	req.Header.Set("User-Agent", ua)
	if t.Token != "" {
		req.Header.Set("Authorization", "Bearer "+t.Token)
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, nil
}

// Send posts one notification, for priming and for tests.
func (t Target) Send(ctx context.Context, body []byte) (int, error) {
	return t.send(ctx, http.DefaultClient, body)
}

// recorder collects the outcome of every request of a run.
type recorder struct {
	mu  sync.Mutex
	res Result
}

func (r *recorder) record(kind Kind, status int, err error, latency time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.Sent++
	r.res.Kinds[kind]++
	switch {
	case err != nil && errors.Is(err, context.Canceled):
		r.res.Cancelled++
		return
	case err != nil:
		r.res.NetErrors++
		if r.res.FirstError == "" {
			r.res.FirstError = err.Error()
		}
	case status == http.StatusOK:
		r.res.OK++
	default:
		r.res.Status[status]++
	}
	r.res.Latencies = append(r.res.Latencies, latency)
	r.res.ByKind[kind] = append(r.res.ByKind[kind], latency)
}

func newRecorder(mode string) *recorder {
	return &recorder{res: Result{Mode: mode, Status: map[int]int{}, Kinds: map[Kind]int{}, ByKind: map[Kind][]time.Duration{}}}
}

// Closed sends notifications of mix from concurrency workers, each sending
// its next one as soon as the last is answered, for d. Latency is from
// sending to the answer.
func Closed(ctx context.Context, t Target, mix *Mix, concurrency int, d time.Duration) Result {
	c := client(concurrency)
	defer c.CloseIdleConnections()
	rec := newRecorder(fmt.Sprintf("closed c=%d", concurrency))
	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			var buf []byte
			// Requests in flight at the end are answered, not cut off.
			for ctx.Err() == nil && time.Now().Before(end) {
				var kind Kind
				buf, kind = mix.Next(buf[:0])
				sent := time.Now()
				status, err := t.send(ctx, c, buf)
				rec.record(kind, status, err, time.Since(sent))
			}
		})
	}
	wg.Wait()
	rec.res.Elapsed = time.Since(start)
	return rec.finish()
}

// Open sends notifications of mix at rate per second for d, on schedule
// whether or not earlier ones were answered: request i is due at
// start + i/rate, and its latency is measured from then, so a stalled
// server shows in the numbers instead of slowing the sender (no
// coordinated omission). At most maxInFlight requests are outstanding; a
// request due while that many are is dropped and counted.
func Open(ctx context.Context, t Target, mix *Mix, rate float64, d time.Duration, maxInFlight int) Result {
	c := client(maxInFlight)
	defer c.CloseIdleConnections()
	rec := newRecorder(fmt.Sprintf("open %.0f/s", rate))
	slots := make(chan struct{}, maxInFlight)
	interval := time.Duration(float64(time.Second) / rate)
	total := int(rate * d.Seconds())
	start := time.Now()
	var wg sync.WaitGroup
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := 0; i < total && ctx.Err() == nil; i++ {
		due := start.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
			}
		}
		select {
		case slots <- struct{}{}:
		default:
			rec.drop()
			continue
		}
		wg.Go(func() {
			defer func() { <-slots }()
			body, kind := mix.Next(nil)
			status, err := t.send(ctx, c, body)
			rec.record(kind, status, err, time.Since(due))
		})
	}
	wg.Wait()
	rec.res.Elapsed = time.Since(start)
	return rec.finish()
}

func (r *recorder) drop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.Dropped++
}

func (r *recorder) finish() Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.sortLatencies()
	return r.res
}
