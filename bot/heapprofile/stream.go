package heapprofile

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// A heap profile is summed per allocation site without building it in
// memory: github.com/google/pprof/profile's ParseData inflates the whole
// file, then decodes every sample, location and function into objects
// (about nine times the gzipped size, 0.5 GB for a 54 MB profile). Here
// the file is read as a stream of protobuf fields (protowire), twice: the
// first pass keeps only the tables a site needs (sample types, locations,
// functions, strings), the second adds each sample's inuse_space to its
// site. Samples, usually most of a profile, are never held. The field
// numbers are those of pprof's profile.proto.
const (
	fieldSampleType  = 1
	fieldSample      = 2
	fieldLocation    = 4
	fieldFunction    = 5
	fieldStringTable = 6
)

// Bounds of reading a profile: its inflated size (a gzip bomb costs CPU,
// never memory, and this caps that too) and the largest single field.
var maxInflated int64 = 1 << 30

// maxTables bounds what the first pass keeps (strings, locations,
// functions): the memory a profile may cost, whatever its samples.
var maxTables = 128 << 20

const maxField = 16 << 20

// walk calls fn with each top-level field of the profile in data (gzipped
// or not): its number, wire type, and its bytes (length-delimited fields;
// buf is reused, so fn must copy what it keeps) or its varint value.
func walk(data []byte, fn func(num protowire.Number, typ protowire.Type, b []byte, v uint64) error) error {
	var r io.Reader = bytes.NewReader(data)
	if len(data) > 1 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return err
		}
		defer zr.Close()
		r = zr
	}
	lr := &io.LimitedReader{R: r, N: maxInflated + 1}
	br := bufio.NewReaderSize(lr, 64<<10)
	var buf []byte
	for {
		tag, err := binary.ReadUvarint(br)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return inflatedErr(lr, err)
		}
		num, typ := protowire.DecodeTag(tag)
		if num <= 0 {
			return fmt.Errorf("invalid field number in tag %#x", tag)
		}
		var v uint64
		var b []byte
		switch typ {
		case protowire.VarintType:
			if v, err = binary.ReadUvarint(br); err != nil {
				return inflatedErr(lr, err)
			}
		case protowire.Fixed64Type:
			_, err = br.Discard(8)
		case protowire.Fixed32Type:
			_, err = br.Discard(4)
		case protowire.BytesType:
			n, err := binary.ReadUvarint(br)
			if err != nil {
				return inflatedErr(lr, err)
			}
			if n > maxField {
				return fmt.Errorf("field %d is %d bytes long, more than %d", num, n, maxField)
			}
			if uint64(cap(buf)) < n {
				buf = make([]byte, n)
			}
			b = buf[:n]
			if _, err := io.ReadFull(br, b); err != nil {
				return inflatedErr(lr, err)
			}
		default:
			return fmt.Errorf("field %d has wire type %d, which profiles do not use", num, typ)
		}
		if err != nil {
			return inflatedErr(lr, err)
		}
		if err := fn(num, typ, b, v); err != nil {
			return err
		}
	}
}

func inflatedErr(lr *io.LimitedReader, err error) error {
	if lr.N <= 0 {
		return fmt.Errorf("the profile inflates to more than %d bytes", maxInflated)
	}
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// fields calls fn with each field of the message b: number, type, and the
// varint value or the bytes.
func fields(b []byte, fn func(num protowire.Number, typ protowire.Type, v uint64, bs []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var v uint64
		var bs []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			bs, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := fn(num, typ, v, bs); err != nil {
			return err
		}
	}
	return nil
}

// varints appends the values of a repeated integer field, packed (bytes)
// or not (one varint).
func varints(dst []uint64, typ protowire.Type, v uint64, bs []byte) ([]uint64, error) {
	if typ == protowire.VarintType {
		return append(dst, v), nil
	}
	for len(bs) > 0 {
		x, n := protowire.ConsumeVarint(bs)
		if n < 0 {
			return dst, protowire.ParseError(n)
		}
		dst, bs = append(dst, x), bs[n:]
	}
	return dst, nil
}

// tables are what the first pass keeps.
type tables struct {
	sampleTypes [][2]uint64 // string indexes of type and unit
	locs        map[uint64][]frame
	funcs       map[uint64][2]uint64 // string indexes of name and file name
	strs        []string
}

type frame struct {
	fn   uint64
	line int64
}

func readTables(data []byte) (*tables, error) {
	t := &tables{locs: map[uint64][]frame{}, funcs: map[uint64][2]uint64{}}
	kept := 0
	err := walk(data, func(num protowire.Number, typ protowire.Type, b []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		if num == fieldSampleType || num == fieldLocation || num == fieldFunction || num == fieldStringTable {
			// What a field costs kept: its bytes and about 64 of map and
			// slice headers.
			if kept += len(b) + 64; kept > maxTables {
				return fmt.Errorf("its locations, functions and strings take more than %d bytes", maxTables)
			}
		}
		switch num {
		case fieldSampleType:
			var st [2]uint64
			err := fields(b, func(n protowire.Number, _ protowire.Type, v uint64, _ []byte) error {
				if n == 1 || n == 2 {
					st[n-1] = v
				}
				return nil
			})
			t.sampleTypes = append(t.sampleTypes, st)
			return err
		case fieldLocation:
			var id uint64
			var lines []frame
			err := fields(b, func(n protowire.Number, _ protowire.Type, v uint64, bs []byte) error {
				switch n {
				case 1:
					id = v
				case 4:
					var f frame
					err := fields(bs, func(n protowire.Number, _ protowire.Type, v uint64, _ []byte) error {
						switch n {
						case 1:
							f.fn = v
						case 2:
							f.line = int64(v)
						}
						return nil
					})
					lines = append(lines, f)
					return err
				}
				return nil
			})
			t.locs[id] = lines
			return err
		case fieldFunction:
			var id uint64
			var nf [2]uint64
			err := fields(b, func(n protowire.Number, _ protowire.Type, v uint64, _ []byte) error {
				switch n {
				case 1:
					id = v
				case 2:
					nf[0] = v
				case 4:
					nf[1] = v
				}
				return nil
			})
			t.funcs[id] = nf
			return err
		case fieldStringTable:
			t.strs = append(t.strs, string(b))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(t.strs) == 0 || t.strs[0] != "" {
		return nil, errors.New("the string table is missing or does not start with the empty string")
	}
	return t, nil
}

func (t *tables) str(i uint64) (string, error) {
	if i >= uint64(len(t.strs)) {
		return "", fmt.Errorf("string index %d out of range (%d strings)", i, len(t.strs))
	}
	return t.strs[i], nil
}

// siteOf is, per location, the site a stack through it starts at: the
// innermost frame outside the runtime (ok), else its innermost frame (as
// the fallback when every frame of the stack is the runtime's).
type locSite struct {
	first, outside int // indexes into sites; -1 when none
}

// streamSums is sums (diff.go) without parsing the profile into memory.
func streamSums(data []byte, which string) (map[siteKey]int64, string, error) {
	t, err := readTables(data)
	if err != nil {
		return nil, "", fmt.Errorf("the %s profile does not parse: %v", which, err)
	}
	idx := -1
	for i, st := range t.sampleTypes {
		if s, _ := t.str(st[0]); s == "inuse_space" {
			idx = i
		}
	}
	if idx < 0 {
		return nil, "", errNotHeap
	}
	unit, err := t.str(t.sampleTypes[idx][1])
	if err != nil {
		return nil, "", fmt.Errorf("the %s profile does not parse: %v", which, err)
	}
	var sites []siteKey
	index := map[siteKey]int{}
	intern := func(k siteKey) int {
		i, ok := index[k]
		if !ok {
			i = len(sites)
			sites, index[k] = append(sites, k), i
		}
		return i
	}
	per := make(map[uint64]locSite, len(t.locs))
	for id, lines := range t.locs {
		ls := locSite{first: -1, outside: -1}
		for _, l := range lines { // innermost first, inlined frames included
			f, ok := t.funcs[l.fn]
			if !ok {
				continue
			}
			name, err1 := t.str(f[0])
			file, err2 := t.str(f[1])
			if err := errors.Join(err1, err2); err != nil {
				return nil, "", fmt.Errorf("the %s profile does not parse: %v", which, err)
			}
			k := intern(siteKey{name, file, l.line})
			if ls.first < 0 {
				ls.first = k
			}
			if !strings.HasPrefix(name, "runtime.") && !strings.HasPrefix(name, "internal/") {
				ls.outside = k
				break
			}
		}
		per[id] = ls
	}
	t.locs, t.funcs = nil, nil
	unknown := intern(siteKey{fn: "(unknown)"})
	sum := make([]int64, len(sites))
	var locIDs, values []uint64
	err = walk(data, func(num protowire.Number, typ protowire.Type, b []byte, _ uint64) error {
		if num != fieldSample || typ != protowire.BytesType {
			return nil
		}
		locIDs, values = locIDs[:0], values[:0]
		err := fields(b, func(n protowire.Number, typ protowire.Type, v uint64, bs []byte) (err error) {
			switch n {
			case 1:
				locIDs, err = varints(locIDs, typ, v, bs)
			case 2:
				values, err = varints(values, typ, v, bs)
			}
			return err
		})
		if err != nil {
			return err
		}
		if len(values) != len(t.sampleTypes) {
			return fmt.Errorf("a sample has %d values for %d sample types", len(values), len(t.sampleTypes))
		}
		v := int64(values[idx])
		if v == 0 {
			return nil
		}
		site := -1
		for _, id := range locIDs {
			ls, ok := per[id]
			if !ok {
				return fmt.Errorf("a sample names location %d, which the profile lacks", id)
			}
			if site < 0 {
				site = ls.first
			}
			if ls.outside >= 0 {
				site = ls.outside
				break
			}
		}
		if site < 0 {
			site = unknown
		}
		sum[site] += v
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("the %s profile does not parse: %v", which, err)
	}
	out := map[siteKey]int64{}
	for i, v := range sum {
		if v != 0 {
			out[sites[i]] = v
		}
	}
	return out, unit, nil
}

var errNotHeap = errors.New("not a heap profile (no inuse_space samples)")
