package bot

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"slices"
	"time"
)

// Digest identifies content: equal digests mean equal content. It is the
// first half of a SHA-256, so an accidental match is out of reach even
// across millions of alerts. The zero Digest is never computed and so
// matches nothing.
type Digest [16]byte

// IsZero reports whether d is the zero Digest (nothing recorded).
func (d Digest) IsZero() bool { return d == Digest{} }

// AlertDigest digests everything merge compares of an alert as it is
// stored (UTC times, no end while firing): ingest finds an unchanged alert
// by comparing digests, without reading the stored alert. Stores keep it
// beside the alert (PutAlerts) and compute it with this function for
// alerts they receive any other way.
func AlertDigest(a *Alert) Digest {
	h := digester{h: sha256.New()}
	h.alert(a)
	return h.sum()
}

// digester feeds values to a hash with their lengths, so that no two
// different sequences of values feed the same bytes.
type digester struct {
	h   hash.Hash
	buf []byte
}

func (d *digester) str(s string) {
	d.buf = binary.AppendUvarint(d.buf[:0], uint64(len(s)))
	d.h.Write(d.buf)
	d.h.Write([]byte(s))
}

func (d *digester) num(n uint64) {
	d.buf = binary.AppendUvarint(d.buf[:0], n)
	d.h.Write(d.buf)
}

func (d *digester) time(t time.Time) {
	d.num(uint64(t.Unix()))
	d.num(uint64(t.Nanosecond()))
}

func (d *digester) labels(m map[string]string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	d.num(uint64(len(keys)))
	for _, k := range keys {
		d.str(k)
		d.str(m[k])
	}
}

func (d *digester) alert(a *Alert) {
	d.str(a.Fingerprint)
	d.str(string(a.Status))
	d.time(a.StartsAt)
	if a.EndsAt != nil {
		d.num(1)
		d.time(*a.EndsAt)
	} else {
		d.num(0)
	}
	d.str(a.GeneratorURL)
	d.labels(a.Labels)
	d.labels(a.Annotations)
}

func (d *digester) sum() Digest {
	var out Digest
	copy(out[:], d.h.Sum(nil))
	if out.IsZero() {
		out[0] = 1 // never the zero Digest, which means "none"
	}
	return out
}

// notificationDigest digests what ingest reads of a notification, given
// the digests of its (normalised) alerts, under seed. The seed is the
// Service's own, new at every start: a digest recorded by an earlier run
// (under another policy, perhaps) never makes a notification look like a
// repeat.
func notificationDigest(seed []byte, n *Notification, alerts []Digest) Digest {
	h := digester{h: sha256.New()}
	h.h.Write(seed)
	h.str(n.ExternalURL)
	h.num(uint64(n.TruncatedAlerts))
	h.num(uint64(len(alerts)))
	for i := range alerts {
		h.h.Write(alerts[i][:])
	}
	return h.sum()
}
