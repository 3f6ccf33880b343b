package bolt

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/store/internal/legacy"
	bolt "go.etcd.io/bbolt"
)

// chatKey is the key of one adapter's record of one incident: the
// incident's key, then the adapter's name, so that an incident's records
// are found with one prefix.
func chatKey(id int64, adapter string) []byte {
	return append(incidentKey(id), adapter...)
}

func decodeChat(v []byte) (bot.ChatRecord, error) {
	var r bot.ChatRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return r, fmt.Errorf("bolt: decode chat record: %w", err)
	}
	return r, nil
}

// ChatRecord implements bot.Tx.
func (t *tx) ChatRecord(id int64, adapter string) (bot.ChatRecord, error) {
	v := t.btx.Bucket(bucketChat).Get(chatKey(id, adapter))
	if v == nil {
		return bot.ChatRecord{}, nil
	}
	return decodeChat(v)
}

// ChatRecords implements bot.Tx.
func (t *tx) ChatRecords(id int64) (map[string]bot.ChatRecord, error) {
	out := map[string]bot.ChatRecord{}
	prefix := incidentKey(id)
	c := t.btx.Bucket(bucketChat).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		r, err := decodeChat(v)
		if err != nil {
			return nil, err
		}
		out[string(k[len(prefix):])] = r
	}
	return out, nil
}

// PutChatRecord implements bot.Tx.
func (t *tx) PutChatRecord(id int64, adapter string, r bot.ChatRecord) error {
	if err := t.writable("PutChatRecord"); err != nil {
		return err
	}
	if adapter == "" {
		return fmt.Errorf("bolt: chat record of incident %d without an adapter name: %w", id, bot.ErrInvalid)
	}
	if t.btx.Bucket(bucketIncidents).Get(incidentKey(id)) == nil {
		return fmt.Errorf("incident %d: %w", id, bot.ErrNotFound)
	}
	old, err := t.ChatRecord(id, adapter)
	if err != nil {
		return err
	}
	if err := t.indexRoom(id, adapter, old.Room, r.Room); err != nil {
		return err
	}
	b := t.btx.Bucket(bucketChat)
	if r.IsZero() {
		return b.Delete(chatKey(id, adapter))
	}
	v, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("bolt: encode chat record: %w", err)
	}
	if err := b.Put(chatKey(id, adapter), v); err != nil {
		return fmt.Errorf("bolt: store chat record of incident %d: %w", id, err)
	}
	return nil
}

// IncidentByRoom implements bot.Tx.
func (t *tx) IncidentByRoom(adapter, room string) (*bot.Incident, error) {
	var id []byte
	if room != "" {
		id = t.btx.Bucket(bucketRooms).Get(groupKey(adapter, room))
	}
	if id == nil {
		return nil, fmt.Errorf("incident for %s room %q: %w", adapter, room, bot.ErrNotFound)
	}
	return t.Incident(int64(binary.BigEndian.Uint64(id)))
}

// indexRoom moves incident id's room index entry from old to cur. The
// old entry goes only if it still points at id: a room taken over by
// another incident stays with that one.
func (t *tx) indexRoom(id int64, adapter, old, cur string) error {
	if old == cur {
		return nil
	}
	b := t.btx.Bucket(bucketRooms)
	key := incidentKey(id)
	if old != "" && bytes.Equal(b.Get(groupKey(adapter, old)), key) {
		if err := b.Delete(groupKey(adapter, old)); err != nil {
			return fmt.Errorf("bolt: unindex room %q: %w", old, err)
		}
	}
	if cur != "" {
		if err := b.Put(groupKey(adapter, cur), key); err != nil {
			return fmt.Errorf("bolt: index room %q: %w", cur, err)
		}
	}
	return nil
}

// deleteChat deletes the incident's chat records and their rooms.
func (t *tx) deleteChat(id int64) error {
	recs, err := t.ChatRecords(id)
	if err != nil {
		return err
	}
	for adapter, r := range recs {
		if err := t.indexRoom(id, adapter, r.Room, ""); err != nil {
			return err
		}
		if err := t.btx.Bucket(bucketChat).Delete(chatKey(id, adapter)); err != nil {
			return fmt.Errorf("bolt: delete chat record of incident %d: %w", id, err)
		}
	}
	return nil
}

// moveChatOut moves the Slack fields of version 2 incident records into
// the Slack adapter's chat record, indexes its room, and drops the old
// channel index. It works on the raw JSON, before anything decodes the
// records as this build's bot.Incident (which has no such fields).
func moveChatOut(btx *bolt.Tx) error {
	b := btx.Bucket(bucketIncidents)
	type moved struct {
		key []byte
		rec bot.ChatRecord
		inc []byte
	}
	var todo []moved
	err := b.ForEach(func(k, v []byte) error {
		out, rec, changed, err := legacy.SlackOut(v)
		if err != nil {
			return fmt.Errorf("bolt: incident %x: %w", k, err)
		}
		if changed {
			todo = append(todo, moved{bytes.Clone(k), rec, out})
		}
		return nil
	})
	if err != nil {
		return err
	}
	t := &tx{btx: btx}
	for _, m := range todo {
		if err := b.Put(m.key, m.inc); err != nil {
			return err
		}
		if m.rec.IsZero() {
			continue
		}
		if err := t.PutChatRecord(int64(binary.BigEndian.Uint64(m.key)), legacy.Adapter, m.rec); err != nil {
			return err
		}
	}
	if btx.Bucket(bucketChannels) != nil {
		return btx.DeleteBucket(bucketChannels)
	}
	return nil
}
