package bolt

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/incidentbot/incidentbot/bot"
	bolt "go.etcd.io/bbolt"
)

// An alert record is its place in the incident's order (8 bytes), its
// digest, then the Alert's JSON: the digest is compared without decoding.
const alertHeader = 8 + len(bot.Digest{})

// alertsFill is how full a page of the alerts bucket gets before it splits.
const alertsFill = 0.9

// alertKey is the incident's key followed by the fingerprint, so that an
// incident's alerts sit together under its 8-byte prefix.
func alertKey(id int64, fingerprint string) []byte {
	return append(incidentKey(id), fingerprint...)
}

// alerts returns all of the incident's alerts in the order first seen.
func (t *tx) alerts(id int64) ([]bot.Alert, error) {
	type rec struct {
		seq uint64
		a   bot.Alert
	}
	var recs []rec
	prefix := incidentKey(id)
	c := t.btx.Bucket(bucketAlerts).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		a, err := decodeAlert(id, v)
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec{binary.BigEndian.Uint64(v), a})
	}
	slices.SortFunc(recs, func(x, y rec) int { return cmp.Compare(x.seq, y.seq) })
	out := make([]bot.Alert, len(recs))
	for i := range recs {
		out[i] = recs[i].a
	}
	return out, nil
}

func decodeAlert(id int64, v []byte) (bot.Alert, error) {
	var a bot.Alert
	if len(v) < alertHeader {
		return a, fmt.Errorf("bolt: decode alert of incident %d: record of %d bytes", id, len(v))
	}
	if err := json.Unmarshal(v[alertHeader:], &a); err != nil {
		return a, fmt.Errorf("bolt: decode alert of incident %d: %w", id, err)
	}
	return a, nil
}

// AlertDigests implements bot.Tx.
func (t *tx) AlertDigests(id int64, fingerprints []string) ([]bot.Digest, error) {
	out := make([]bot.Digest, len(fingerprints))
	b := t.btx.Bucket(bucketAlerts)
	key := incidentKey(id)
	for i, fp := range fingerprints {
		key = append(key[:8], fp...)
		if v := b.Get(key); len(v) >= alertHeader {
			copy(out[i][:], v[8:alertHeader])
		}
	}
	return out, nil
}

// AlertsByFingerprint implements bot.Tx.
func (t *tx) AlertsByFingerprint(id int64, fingerprints []string) (map[string]bot.Alert, error) {
	out := make(map[string]bot.Alert, len(fingerprints))
	b := t.btx.Bucket(bucketAlerts)
	key := incidentKey(id)
	for _, fp := range fingerprints {
		key = append(key[:8], fp...)
		v := b.Get(key)
		if v == nil {
			continue
		}
		a, err := decodeAlert(id, v)
		if err != nil {
			return nil, err
		}
		out[fp] = a
	}
	return out, nil
}

// PutAlerts implements bot.Tx.
func (t *tx) PutAlerts(id int64, alerts []bot.Alert, digests []bot.Digest) error {
	if err := t.writable("PutAlerts"); err != nil {
		return err
	}
	if len(alerts) != len(digests) {
		return fmt.Errorf("%w: %d alerts with %d digests", bot.ErrInvalid, len(alerts), len(digests))
	}
	if t.btx.Bucket(bucketIncidents).Get(incidentKey(id)) == nil {
		return fmt.Errorf("alerts of incident %d: %w", id, bot.ErrNotFound)
	}
	b := t.btx.Bucket(bucketAlerts)
	// Most puts append (a new incident's alerts come after all others) or
	// replace a record of about the same size: pages split when full, not
	// at bbolt's default half, which would leave every page half empty.
	b.FillPercent = alertsFill
	for i := range alerts {
		key := alertKey(id, alerts[i].Fingerprint)
		var seq uint64
		if old := b.Get(key); len(old) >= 8 {
			seq = binary.BigEndian.Uint64(old)
		} else {
			var err error
			if seq, err = b.NextSequence(); err != nil {
				return fmt.Errorf("bolt: number alert: %w", err)
			}
		}
		v := binary.BigEndian.AppendUint64(make([]byte, 0, alertHeader+512), seq)
		v = append(v, digests[i][:]...)
		enc, err := json.Marshal(&alerts[i])
		if err != nil {
			return fmt.Errorf("encode alert %q of incident %d: %w", alerts[i].Fingerprint, id, err)
		}
		if err := b.Put(key, append(v, enc...)); err != nil {
			return fmt.Errorf("bolt: store alert of incident %d: %w", id, err)
		}
	}
	return nil
}

// A group record is the latest incident's ID, the revision, the digest of
// the last notification applied and whether the incident was open then.
// Version 1 files hold the ID alone, which reads as revision 0, no digest.
const groupRecordLen = 8 + 8 + len(bot.Digest{}) + 1

func decodeGroup(v []byte) (bot.GroupState, error) {
	var g bot.GroupState
	switch len(v) {
	case 8:
	case groupRecordLen:
		g.Rev = binary.BigEndian.Uint64(v[8:])
		copy(g.Digest[:], v[16:])
		g.Open = v[groupRecordLen-1] == 1
	default:
		return g, fmt.Errorf("bolt: decode group: record of %d bytes", len(v))
	}
	g.Incident = int64(binary.BigEndian.Uint64(v))
	return g, nil
}

func encodeGroup(g bot.GroupState) []byte {
	v := make([]byte, 0, groupRecordLen)
	v = binary.BigEndian.AppendUint64(v, uint64(g.Incident))
	v = binary.BigEndian.AppendUint64(v, g.Rev)
	v = append(v, g.Digest[:]...)
	if g.Open {
		return append(v, 1)
	}
	return append(v, 0)
}

// Group implements bot.Tx.
func (t *tx) Group(receiver, key string) (bot.GroupState, error) {
	v := t.btx.Bucket(bucketGroups).Get(groupKey(receiver, key))
	if v == nil {
		return bot.GroupState{}, fmt.Errorf("incident for receiver %q group_key %q: %w", receiver, key, bot.ErrNotFound)
	}
	return decodeGroup(v)
}

// SetGroupDigest implements bot.Tx.
func (t *tx) SetGroupDigest(receiver, key string, d bot.Digest, open bool) error {
	if err := t.writable("SetGroupDigest"); err != nil {
		return err
	}
	g, err := t.Group(receiver, key)
	if err != nil {
		return err
	}
	g.Rev++
	g.Digest, g.Open = d, open
	return t.putGroup(receiver, key, g)
}

// newGroupIncident makes id the group's latest incident, with no digest.
func (t *tx) newGroupIncident(receiver, key string, id int64) error {
	g, err := t.Group(receiver, key)
	if err != nil && !isNotFound(err) {
		return err
	}
	return t.putGroup(receiver, key, bot.GroupState{Incident: id, Rev: g.Rev + 1})
}

func (t *tx) putGroup(receiver, key string, g bot.GroupState) error {
	if err := t.btx.Bucket(bucketGroups).Put(groupKey(receiver, key), encodeGroup(g)); err != nil {
		return fmt.Errorf("bolt: index incident %d by group: %w", g.Incident, err)
	}
	return nil
}

// migrateAlertsOut moves the alerts of version 1 records into the alerts
// bucket, counts them into the header's Roster, and indexes the open
// incidents. It runs once, when a version 1 file is opened.
func migrateAlertsOut(btx *bolt.Tx) error {
	b := btx.Bucket(bucketIncidents)
	var incs []*bot.Incident
	err := b.ForEach(func(_, v []byte) error {
		inc, err := decodeIncident(v)
		incs = append(incs, inc)
		return err
	})
	if err != nil {
		return err
	}
	t := &tx{btx: btx}
	for _, inc := range incs {
		alerts := inc.Alerts
		if inc.Roster == (bot.Roster{}) {
			inc.Roster = bot.RosterOf(alerts)
		}
		if err := t.putIncident(inc, false); err != nil {
			return err
		}
		digests := make([]bot.Digest, len(alerts))
		for i := range alerts {
			digests[i] = bot.AlertDigest(&alerts[i])
		}
		if err := t.PutAlerts(inc.ID, alerts, digests); err != nil {
			return err
		}
	}
	return nil
}

func isNotFound(err error) bool { return errors.Is(err, bot.ErrNotFound) }
