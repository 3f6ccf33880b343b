package bot

import (
	"crypto/sha256"
	"encoding/binary"
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
	var d digester
	return d.alertDigest(a)
}

// digester encodes values with their lengths, so that no two different
// sequences of values give the same bytes, into a buffer it hashes at
// once; one digester reused for many alerts allocates next to nothing.
type digester struct {
	buf  []byte
	keys []string
}

func (d *digester) str(s string) {
	d.buf = binary.AppendUvarint(d.buf, uint64(len(s)))
	d.buf = append(d.buf, s...)
}

func (d *digester) num(n uint64) { d.buf = binary.AppendUvarint(d.buf, n) }

func (d *digester) time(t time.Time) {
	d.num(uint64(t.Unix()))
	d.num(uint64(t.Nanosecond()))
}

func (d *digester) labels(m map[string]string) {
	d.keys = d.keys[:0]
	for k := range m {
		d.keys = append(d.keys, k)
	}
	slices.Sort(d.keys)
	d.num(uint64(len(d.keys)))
	for _, k := range d.keys {
		d.str(k)
		d.str(m[k])
	}
}

func (d *digester) alertDigest(a *Alert) Digest {
	d.buf = d.buf[:0]
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
	return d.sum()
}

func (d *digester) sum() Digest {
	full := sha256.Sum256(d.buf)
	var out Digest
	copy(out[:], full[:])
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
	d := digester{buf: make([]byte, 0, len(seed)+len(n.ExternalURL)+16+len(alerts)*len(Digest{}))}
	d.buf = append(d.buf, seed...)
	d.str(n.ExternalURL)
	d.num(uint64(n.TruncatedAlerts))
	d.num(uint64(len(alerts)))
	for i := range alerts {
		d.buf = append(d.buf, alerts[i][:]...)
	}
	return d.sum()
}
