package email

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/incidentbot/incidentbot/bot"
)

// certs returns a server certificate for 127.0.0.1 and a client config
// that trusts it.
func certs(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool}
}

// mailbox is the in-process SMTP server's record of what it received.
type mailbox struct {
	mu       sync.Mutex
	messages []received
	auths    []string // "user:pass tls=<bool>"
	rcptErr  error
}

type received struct {
	from, to string
	data     []byte
	tls      bool
	helo     string // the name the client gave in EHLO
}

type session struct {
	box   *mailbox
	conn  *smtp.Conn
	from  string
	to    string
	authd bool
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		_, isTLS := s.conn.TLSConnectionState()
		s.box.mu.Lock()
		s.box.auths = append(s.box.auths, user+":"+pass+" tls="+map[bool]string{true: "true", false: "false"}[isTLS])
		s.box.mu.Unlock()
		if user != "pager" || pass != "p@ss" {
			return errors.New("bad credentials")
		}
		s.authd = true
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.box.mu.Lock()
	defer s.box.mu.Unlock()
	if s.box.rcptErr != nil {
		return s.box.rcptErr
	}
	s.to = to
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.box.mu.Lock()
	defer s.box.mu.Unlock()
	s.box.messages = append(s.box.messages, received{s.from, s.to, b, isTLS, s.conn.Hostname()})
	return nil
}

func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }

// serve starts a real SMTP server on 127.0.0.1: STARTTLS offered when
// starttls is set, TLS from the first byte when implicit is set.
func serve(t *testing.T, box *mailbox, serverTLS *tls.Config, starttls, implicit bool) string {
	t.Helper()
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{box: box, conn: c}, nil }))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true // the client must refuse on its own
	if starttls {
		srv.TLSConfig = serverTLS
	}
	var ln net.Listener
	var err error
	if implicit {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", serverTLS)
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func page(to string) bot.PageMessage {
	return bot.PageMessage{
		Incident: &bot.Incident{ID: 9, Title: "Payments down\r\nBcc: everyone@example.com <script>", Severity: bot.SEV1},
		Page:     bot.Page{ID: 4, Target: "U0ALICE", Via: bot.ViaEmail, Address: to, Team: "payments", Step: 1},
		Text:     "SEV1 INC-9: Payments down (team payments, step 1)", URL: "https://bot.example.com/incidents/9",
		AckURL: "https://bot.example.com/page/ack/TOKEN123",
	}
}

func TestEmailPageWithSTARTTLS(t *testing.T) {
	serverTLS, clientTLS := certs(t)
	box := &mailbox{}
	addr := serve(t, box, serverTLS, true, false)
	p, err := New(Options{URL: "smtp://pager:p%40ss@" + addr, From: "incidentbot@example.com", TLS: clientTLS,
		Now: func() time.Time { return time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Send(context.Background(), page("alice@example.com")); err != nil {
		t.Fatal(err)
	}
	if len(box.messages) != 1 || len(box.auths) != 1 || box.auths[0] != "pager:p@ss tls=true" {
		t.Fatalf("messages %d, auths %q; want one message, one AUTH over TLS", len(box.messages), box.auths)
	}
	got := box.messages[0]
	if !got.tls || got.from != "incidentbot@example.com" || got.to != "alice@example.com" {
		t.Errorf("envelope = %+v", got)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(got.data))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if subject != "[SEV1] INC-9 paged: Payments down Bcc: everyone@example.com <script>" || msg.Header.Get("Bcc") != "" {
		t.Errorf("subject %q, Bcc %q: a title must not add headers", subject, msg.Header.Get("Bcc"))
	}
	if msg.Header.Get("Message-ID") != "<page-4.inc-9@incidentbot>" || msg.Header.Get("To") != "<alice@example.com>" ||
		!strings.Contains(msg.Header.Get("From"), "incidentbot@example.com") || msg.Header.Get("Date") == "" {
		t.Errorf("headers = %v", msg.Header)
	}
	mt, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if mt != "multipart/alternative" {
		t.Fatalf("content type %q", mt)
	}
	parts := map[string]string{}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // decodes quoted-printable
		if err != nil {
			break
		}
		b, _ := io.ReadAll(part)
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		parts[ct] = string(b)
	}
	if txt := parts["text/plain"]; !strings.Contains(txt, "Acknowledge: https://bot.example.com/page/ack/TOKEN123") ||
		!strings.Contains(txt, "SEV1 INC-9: Payments down (team payments, step 1)") {
		t.Errorf("text part:\n%s", txt)
	}
	if h := parts["text/html"]; !strings.Contains(h, `<a href="https://bot.example.com/page/ack/TOKEN123"`) ||
		strings.Contains(h, "<script>") || !strings.Contains(h, "&lt;script&gt;") {
		t.Errorf("html part:\n%s", h)
	}
}

func TestEmailNeverSendsThePasswordInTheClear(t *testing.T) {
	serverTLS, clientTLS := certs(t)
	box := &mailbox{}
	addr := serve(t, box, serverTLS, false, false) // no STARTTLS offered
	p, err := New(Options{URL: "smtp://pager:p%40ss@" + addr, From: "incidentbot@example.com", TLS: clientTLS})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Send(context.Background(), page("alice@example.com"))
	if !errors.Is(err, bot.ErrInvalid) || !strings.Contains(err.Error(), "STARTTLS") || strings.Contains(err.Error(), "p@ss") {
		t.Errorf("err = %v, want a permanent refusal naming STARTTLS, without the password", err)
	}
	if len(box.auths) != 0 || len(box.messages) != 0 {
		t.Errorf("the server saw auths %q and %d messages", box.auths, len(box.messages))
	}
	// Without credentials, a server without STARTTLS is used as is.
	p, _ = New(Options{URL: "smtp://" + addr, From: "incidentbot@example.com"})
	if err := p.Send(context.Background(), page("alice@example.com")); err != nil || len(box.messages) != 1 || box.messages[0].tls {
		t.Errorf("plain relay: %v, %d messages", err, len(box.messages))
	}
}

func TestEmailSMTPS(t *testing.T) {
	serverTLS, clientTLS := certs(t)
	box := &mailbox{}
	addr := serve(t, box, serverTLS, false, true)
	p, err := New(Options{URL: "smtps://pager:p%40ss@" + addr, From: "incidentbot@example.com", TLS: clientTLS})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Send(context.Background(), page("alice@example.com")); err != nil {
		t.Fatal(err)
	}
	if len(box.messages) != 1 || !box.messages[0].tls || box.auths[0] != "pager:p@ss tls=true" {
		t.Errorf("messages %+v auths %q", box.messages, box.auths)
	}
	// A certificate the client does not trust is refused.
	p, _ = New(Options{URL: "smtps://" + addr, From: "incidentbot@example.com"})
	if err := p.Send(context.Background(), page("alice@example.com")); err == nil {
		t.Error("an untrusted certificate was accepted")
	}
}

func TestEmailRefusals(t *testing.T) {
	serverTLS, clientTLS := certs(t)
	for _, tc := range []struct {
		name      string
		err       error
		permanent bool
	}{
		{"550 no such user", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}, true},
		{"451 try later", &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}, false},
	} {
		box := &mailbox{rcptErr: tc.err}
		addr := serve(t, box, serverTLS, true, false)
		p, _ := New(Options{URL: "smtp://" + addr, From: "incidentbot@example.com", TLS: clientTLS})
		err := p.Send(context.Background(), page("alice@example.com"))
		if err == nil || errors.Is(err, bot.ErrInvalid) != tc.permanent {
			t.Errorf("%s: %v, want permanent=%v", tc.name, err, tc.permanent)
		}
	}
	if err := (&Pager{}).Send(context.Background(), page("not an address")); !errors.Is(err, bot.ErrInvalid) {
		t.Errorf("bad address: %v", err)
	}
	p, _ := New(Options{URL: "smtp://127.0.0.1:1", From: "incidentbot@example.com"})
	if err := p.Send(context.Background(), page("alice@example.com")); err == nil || errors.Is(err, bot.ErrInvalid) {
		t.Errorf("connection refused: %v, want transient", err)
	}
}

func TestNewRefusesBadSettings(t *testing.T) {
	for _, tc := range []struct{ url, from string }{
		{"http://mail.example.com", "a@example.com"}, {"smtp://", "a@example.com"}, {"smtp://user:hunter2@mail.example.com", "nobody"}, {"::", "a@example.com"},
	} {
		_, err := New(Options{URL: tc.url, From: tc.from})
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("New(%q, %q) = %v; want an error without the password", tc.url, tc.from, err)
		}
	}
}

// RFC 5322 (2.1.1) caps a line at 998 octets and SMTP servers refuse (5xx,
// a permanent failure for us) or break longer ones: a long alert title must
// not cost the person their email page.
func TestEmailLinesFitRFC5322WithAHugeTitle(t *testing.T) {
	p, err := New(Options{URL: "smtps://mail.example.com", From: "incidentbot@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	for _, title := range []string{strings.Repeat("x", 5000), strings.Repeat("é\x1b\u2028", 3000), strings.Repeat("word ", 2000)} {
		m := page("alice@example.com")
		m.Incident.Title = title
		m.Text = "SEV1 INC-9: " + title
		raw, err := p.message("alice@example.com", m)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(raw), "\r\n") {
			if len(line) > 998 {
				t.Fatalf("title %.20q...: line %d is %d octets long: %.60q...", title, i, len(line), line)
			}
		}
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		if err != nil || !strings.HasPrefix(subject, "[SEV1] INC-9 paged: ") || len(subject) > 400 {
			t.Errorf("subject (%d bytes) %.80q: %v; want the head of the title", len(subject), subject, err)
		}
	}
}

// RFC 5321 (4.1.1.1) wants a fully-qualified name or an address literal in
// EHLO; servers that enforce it (Postfix's reject_non_fqdn_helo_hostname)
// refuse with a 5xx, which is permanent: no email page would ever go out.
func TestEmailEHLOIsAnAddressLiteral(t *testing.T) {
	box := &mailbox{}
	addr := serve(t, box, nil, false, false)
	p, err := New(Options{URL: "smtp://" + addr, From: "incidentbot@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Send(context.Background(), page("alice@example.com")); err != nil {
		t.Fatal(err)
	}
	if len(box.messages) != 1 || box.messages[0].helo != "[127.0.0.1]" {
		t.Errorf("EHLO %q, want the address literal [127.0.0.1]", box.messages[0].helo)
	}
}

// The email says how long its ack link works from the engine's TokenTTL,
// in both parts, not a fixed "24 hours".
func TestEmailSaysTheAckLinksLifetime(t *testing.T) {
	serverTLS, clientTLS := certs(t)
	box := &mailbox{}
	addr := serve(t, box, serverTLS, true, false)
	p, err := New(Options{URL: "smtp://" + addr, From: "incidentbot@example.com", TLS: clientTLS})
	if err != nil {
		t.Fatal(err)
	}
	m := page("alice@example.com")
	m.AckTTL = 90 * time.Minute
	if err := p.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(box.messages[0].data))
	if err != nil {
		t.Fatal(err)
	}
	_, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	mr := multipart.NewReader(msg.Body, params["boundary"])
	n := 0
	for {
		part, err := mr.NextPart()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(part)
		n++
		if s := string(b); !strings.Contains(s, "works for 90 minutes") || strings.Contains(s, "24 hours") {
			t.Errorf("%s part does not say the link works for 90 minutes:\n%s", part.Header.Get("Content-Type"), s)
		}
	}
	if n != 2 {
		t.Fatalf("%d parts, want 2", n)
	}
	for d, want := range map[time.Duration]string{24 * time.Hour: "24 hours", time.Hour: "1 hour", 72 * time.Hour: "3 days",
		30 * time.Minute: "30 minutes", 90 * time.Second: "90 seconds", 0: "a limited time"} {
		if got := ttlWords(d); got != want {
			t.Errorf("ttlWords(%s) = %q, want %q", d, got, want)
		}
	}
}

// A grouped page (a storm) is one email listing its incidents, with one
// ack link for all of them.
func TestEmailGroupedPage(t *testing.T) {
	serverTLS, clientTLS := certs(t)
	box := &mailbox{}
	addr := serve(t, box, serverTLS, true, false)
	p, err := New(Options{URL: "smtp://" + addr, From: "incidentbot@example.com", TLS: clientTLS})
	if err != nil {
		t.Fatal(err)
	}
	m := page("alice@example.com")
	m.AckTTL = 24 * time.Hour
	for i := range 11 {
		inc := &bot.Incident{ID: int64(10 + i), Title: "Disk full\r\nBcc: x@example.com", Severity: bot.SEV2}
		m.Also = append(m.Also, bot.PageItem{Incident: inc, Page: bot.Page{ID: uint64(20 + i), IncidentID: inc.ID},
			Text: fmt.Sprintf("SEV2 %s: Disk full\r\nBcc: x@example.com (team payments, step 1)", inc.Key()), URL: fmt.Sprintf("https://bot.example.com/incidents/%d", inc.ID)})
	}
	if err := p.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if len(box.messages) != 1 {
		t.Fatalf("%d emails, want 1", len(box.messages))
	}
	msg, err := mail.ReadMessage(bytes.NewReader(box.messages[0].data))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if want := "[SEV1] 12 incidents paged: INC-9, INC-10, INC-11, INC-12, INC-13, INC-14, INC-15, INC-16, INC-17, INC-18 and 2 more"; subject != want || msg.Header.Get("Bcc") != "" {
		t.Errorf("subject %q, want %q", subject, want)
	}
	_, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	mr := multipart.NewReader(msg.Body, params["boundary"])
	parts := map[string]string{}
	for {
		part, err := mr.NextPart()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(part)
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		parts[ct] = string(b)
	}
	txt := parts["text/plain"]
	for _, want := range []string{"You are paged for 12 incidents:", "- SEV1 INC-9: Payments down (team payments, step 1)",
		"- SEV2 INC-18: Disk full Bcc: x@example.com (team payments, step 1)\r\n  https://bot.example.com/incidents/18", "...and 2 more",
		"Acknowledge all 12: https://bot.example.com/page/ack/TOKEN123", "works for 24 hours"} {
		if !strings.Contains(txt, want) {
			t.Errorf("text part lacks %q:\n%s", want, txt)
		}
	}
	if strings.Contains(txt, "INC-19") {
		t.Errorf("text part lists past %d incidents:\n%s", bot.PageListed, txt)
	}
	if h := parts["text/html"]; !strings.Contains(h, "Acknowledge all 12</a>") || !strings.Contains(h, `<a href="https://bot.example.com/incidents/18">SEV2 INC-18`) ||
		!strings.Contains(h, "…and 2 more") || strings.Contains(h, "INC-19") {
		t.Errorf("html part:\n%s", h)
	}
}
