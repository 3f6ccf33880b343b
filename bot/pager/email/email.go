// Package email pages people by email through an SMTP server: a message
// with a text and an HTML part and the ack link. It implements bot.Pager.
//
// smtp:// connects in the clear and upgrades with STARTTLS when the
// server offers it; credentials are only ever sent over TLS, so a server
// without STARTTLS is refused when the URL has a user. smtps:// is TLS
// from the first byte (port 465).
package email

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"html/template"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/incidentbot/incidentbot/bot"
)

// Options configures a Pager.
type Options struct {
	// URL is smtp://[user:pass@]host[:587] or smtps://[user:pass@]host[:465].
	URL string
	// From is the sender address.
	From string
	// TLS is the base TLS configuration (tests pass their own roots); nil
	// means the system's. ServerName is always the URL's host.
	TLS *tls.Config
	// Timeout bounds dialing; the context bounds the whole send. Default 10s.
	Timeout time.Duration
	// Now dates the messages; nil means time.Now.
	Now func() time.Time
}

// Pager sends pages by email.
type Pager struct {
	o          Options
	tlsFromTop bool
	addr, host string
	user, pass string
	from       string
}

var _ bot.Pager = (*Pager)(nil)

// New checks the options. Its errors never contain the password.
func New(o Options) (*Pager, error) {
	u, err := url.Parse(o.URL)
	if err != nil {
		return nil, errors.New("INCIDENTBOT_SMTP_URL is not a URL (want smtp://user:pass@host:587 or smtps://...)")
	}
	p := &Pager{o: o}
	switch u.Scheme {
	case "smtp":
	case "smtps":
		p.tlsFromTop = true
	default:
		return nil, fmt.Errorf("INCIDENTBOT_SMTP_URL: scheme %q: want smtp or smtps", u.Scheme)
	}
	p.host = u.Hostname()
	if p.host == "" {
		return nil, errors.New("INCIDENTBOT_SMTP_URL has no host")
	}
	port := u.Port()
	if port == "" {
		port = map[bool]string{false: "587", true: "465"}[p.tlsFromTop]
	}
	p.addr = net.JoinHostPort(p.host, port)
	if u.User != nil {
		p.user = u.User.Username()
		p.pass, _ = u.User.Password()
	}
	from, err := mail.ParseAddress(o.From)
	if err != nil {
		return nil, fmt.Errorf("INCIDENTBOT_SMTP_FROM %q is not an email address", o.From)
	}
	p.from = from.Address
	if p.o.Timeout <= 0 {
		p.o.Timeout = 10 * time.Second
	}
	if p.o.Now == nil {
		p.o.Now = time.Now
	}
	return p, nil
}

// Via implements bot.Pager.
func (*Pager) Via() string { return bot.ViaEmail }

func (p *Pager) tlsConfig() *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if p.o.TLS != nil {
		c = p.o.TLS.Clone()
	}
	c.ServerName = p.host
	return c
}

// Send implements bot.Pager. A 5xx answer is a permanent refusal; a 4xx,
// a network error or a timeout is transient.
func (p *Pager) Send(ctx context.Context, m bot.PageMessage) error {
	to, err := mail.ParseAddress(m.Page.Address)
	if err != nil {
		return fmt.Errorf("%w: email page: %q is not an address", bot.ErrInvalid, m.Page.Address)
	}
	msg, err := p.message(to.Address, m)
	if err != nil {
		return fmt.Errorf("%w: email page: %w", bot.ErrInvalid, err)
	}
	d := net.Dialer{Timeout: p.o.Timeout}
	conn, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return fmt.Errorf("email page: %w", err)
	}
	if p.tlsFromTop {
		tc := tls.Client(conn, p.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return fmt.Errorf("email page: TLS: %w", err)
		}
		conn = tc
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c, err := smtp.NewClient(conn, p.host)
	if err != nil {
		conn.Close()
		return classify(ctx, err)
	}
	defer c.Close()
	if err := p.deliver(c, helloName(conn.LocalAddr()), to.Address, msg); err != nil {
		return classify(ctx, err)
	}
	return nil
}

// helloName is what EHLO says: RFC 5321 (4.1.1.1) wants a fully-qualified
// name or an address literal, and servers that enforce it refuse a bare
// "incidentbot" with a 5xx. The connection's own address is always right.
func helloName(local net.Addr) string {
	ta, ok := local.(*net.TCPAddr)
	if !ok || ta.IP == nil {
		return "[127.0.0.1]"
	}
	if ip4 := ta.IP.To4(); ip4 != nil {
		return "[" + ip4.String() + "]"
	}
	return "[IPv6:" + ta.IP.String() + "]"
}

func (p *Pager) deliver(c *smtp.Client, hello, to string, msg []byte) error {
	if err := c.Hello(hello); err != nil {
		return err
	}
	if !p.tlsFromTop {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(p.tlsConfig()); err != nil {
				return fmt.Errorf("STARTTLS: %w", err)
			}
		}
	}
	if p.user != "" {
		if _, isTLS := c.TLSConnectionState(); !isTLS {
			return fmt.Errorf("%w: the SMTP server does not offer STARTTLS; not sending the password in the clear (use smtps:// or a server with STARTTLS)", bot.ErrInvalid)
		}
		if err := c.Auth(smtp.PlainAuth("", p.user, p.pass, p.host)); err != nil {
			return fmt.Errorf("SMTP AUTH: %w", err)
		}
	}
	if err := c.Mail(p.from); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	// The server answered 250 to the final dot: the message is its now. A
	// failed QUIT (the connection dropped, the context ended) must not
	// make the engine retry and page the person twice for the step.
	_ = c.Quit()
	return nil
}

// classify makes an SMTP 5xx permanent; everything else stays transient.
func classify(ctx context.Context, err error) error {
	var te *textproto.Error
	switch {
	case errors.Is(err, bot.ErrInvalid):
		return fmt.Errorf("email page: %w", err)
	case errors.As(err, &te) && te.Code >= 500:
		return fmt.Errorf("%w: email page: the server refused it: %w", bot.ErrInvalid, err)
	case ctx.Err() != nil:
		return fmt.Errorf("email page: %w", ctx.Err())
	}
	return fmt.Errorf("email page: %w", err)
}

var htmlPart = template.Must(template.New("page").Parse(`<!doctype html>
<html><body style="font-family: sans-serif">
<p><strong>{{.Head}}</strong></p>
{{if .Items}}<ul>{{range .Items}}<li>{{if .URL}}<a href="{{.URL}}">{{.Text}}</a>{{else}}{{.Text}}{{end}}</li>{{end}}</ul>
{{if .More}}<p>…and {{.More}} more</p>{{end}}{{else}}<p>{{.Text}}</p>{{end}}
{{if .AckURL}}<p><a href="{{.AckURL}}" style="display:inline-block;padding:10px 18px;background:#1264a3;color:#fff;text-decoration:none;border-radius:4px">{{.AckLabel}}</a></p>
<p style="color:#555">The link opens a page with a confirm button; it acknowledges as you and works for {{.TTL}}.</p>{{end}}
{{if and .URL (not .Items)}}<p><a href="{{.URL}}">Open {{.Key}}</a></p>{{end}}
</body></html>
`))

// ttlWords says how long an ack link works, in words: "24 hours",
// "90 minutes", "3 days". Unknown (zero) is "a limited time".
func ttlWords(d time.Duration) string {
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	switch {
	case d <= 0:
		return "a limited time"
	case d%(24*time.Hour) == 0 && d > 48*time.Hour:
		return unit(int64(d/(24*time.Hour)), "day")
	case d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	case d%time.Minute == 0:
		return unit(int64(d/time.Minute), "minute")
	}
	return unit(int64(d.Round(time.Second)/time.Second), "second")
}

// headerSafe drops line breaks, so text from alerts cannot add headers.
func headerSafe(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' }), " ")
}

// maxSubjectTitle bounds the title in the subject: a header line may not
// pass 998 octets (RFC 5322 2.1.1), and an unencoded ASCII subject is one
// line. The whole title is in the body.
const maxSubjectTitle = 200

// clip cuts s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// listed is a grouped page's list: bot.PageListed items and how many more.
type listed struct{ Text, URL string }

// group returns the items a grouped message lists, how many more it
// counts, and its subject; nil items for a page of one incident.
func group(m bot.PageMessage) (items []listed, more int, subject string) {
	all := m.Items()
	if len(all) < 2 {
		return nil, 0, ""
	}
	worst := all[0].Incident.Severity
	var keys []string
	for i, it := range all {
		worst = min(worst, it.Incident.Severity)
		if i < bot.PageListed {
			items = append(items, listed{Text: headerSafe(clip(it.Text, 300)), URL: it.URL})
			keys = append(keys, it.Incident.Key())
		}
	}
	more = len(all) - len(items)
	subject = fmt.Sprintf("[%s] %d incidents paged: %s", worst, len(all), strings.Join(keys, ", "))
	if more > 0 {
		subject += fmt.Sprintf(" and %d more", more)
	}
	return items, more, subject
}

// message builds the MIME message: headers, a text part and an HTML part.
func (p *Pager) message(to string, m bot.PageMessage) ([]byte, error) {
	inc := m.Incident
	subject := headerSafe(fmt.Sprintf("[%s] %s paged: %s", inc.Severity, inc.Key(), clip(inc.Title, maxSubjectTitle)))
	items, more, groupSubject := group(m)
	head, ackLabel, ackLine := fmt.Sprintf("%s %s: %s", inc.Severity, inc.Key(), inc.Title), "Acknowledge", "Acknowledge"
	if items != nil {
		subject = headerSafe(groupSubject)
		head = fmt.Sprintf("You are paged for %d incidents", len(items)+more)
		ackLabel = fmt.Sprintf("Acknowledge all %d", len(items)+more)
		ackLine = ackLabel
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := func(k, v string) { fmt.Fprintf(&buf, "%s: %s\r\n", k, v) }
	h("From", (&mail.Address{Name: "incidentbot", Address: p.from}).String())
	h("To", (&mail.Address{Address: to}).String())
	h("Subject", mime.QEncoding.Encode("utf-8", subject))
	h("Date", p.o.Now().Format(time.RFC1123Z))
	h("Message-ID", fmt.Sprintf("<page-%d.inc-%d@incidentbot>", m.Page.ID, inc.ID))
	h("Auto-Submitted", "auto-generated")
	h("MIME-Version", "1.0")
	h("Content-Type", "multipart/alternative; boundary="+mw.Boundary())
	buf.WriteString("\r\n")

	var text strings.Builder
	if items == nil {
		fmt.Fprintf(&text, "%s\r\n\r\n", headerSafe(m.Text))
	} else {
		fmt.Fprintf(&text, "%s:\r\n\r\n", head)
		for _, it := range items {
			fmt.Fprintf(&text, "- %s\r\n", it.Text)
			if it.URL != "" {
				fmt.Fprintf(&text, "  %s\r\n", it.URL)
			}
		}
		if more > 0 {
			fmt.Fprintf(&text, "...and %d more\r\n", more)
		}
		text.WriteString("\r\n")
	}
	if m.AckURL != "" {
		fmt.Fprintf(&text, "%s: %s\r\n(opens a page with a confirm button; the link works for %s)\r\n\r\n", ackLine, m.AckURL, ttlWords(m.AckTTL))
	}
	if m.URL != "" && items == nil {
		fmt.Fprintf(&text, "Incident: %s\r\n", m.URL)
	}
	var html bytes.Buffer
	if err := htmlPart.Execute(&html, map[string]any{"Head": head, "Items": items, "More": more, "AckLabel": ackLabel,
		"Text": m.Text, "AckURL": m.AckURL, "URL": m.URL, "Key": inc.Key(), "TTL": ttlWords(m.AckTTL)}); err != nil {
		return nil, err
	}
	for _, part := range []struct{ ctype, body string }{{"text/plain; charset=utf-8", text.String()}, {"text/html; charset=utf-8", html.String()}} {
		pw, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {part.ctype}, "Content-Transfer-Encoding": {"quoted-printable"}})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(pw)
		if _, err := qp.Write([]byte(part.body)); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
