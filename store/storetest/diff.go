package storetest

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
)

// maxDiffs keeps a failure message readable when a record comes back
// entirely wrong.
const maxDiffs = 20

var timeType = reflect.TypeFor[time.Time]()

// diff describes how got differs from want, one "path: got X, want Y" line
// per difference, or returns "" when they match. Empty and nil slices and
// maps match (JSON with omitempty cannot tell them apart, and no caller
// needs to); times match when they are the same instant, and a UTC time
// must come back in UTC.
func diff(got, want any) string {
	var lines []string
	diffValue(&lines, "", reflect.ValueOf(got), reflect.ValueOf(want))
	if len(lines) > maxDiffs {
		lines = append(lines[:maxDiffs], "...")
	}
	return strings.Join(lines, "\n")
}

func diffValue(out *[]string, path string, got, want reflect.Value) {
	if len(*out) > maxDiffs {
		return
	}
	report := func(g, w any) { *out = append(*out, fmt.Sprintf("%s: got %#v, want %#v", path, g, w)) }
	if !got.IsValid() || !want.IsValid() || got.Type() != want.Type() {
		*out = append(*out, fmt.Sprintf("%s: got %v, want %v", path, got, want))
		return
	}
	if got.Type() == timeType {
		g, w := got.Interface().(time.Time), want.Interface().(time.Time)
		if !g.Equal(w) || (w.Location() == time.UTC && g.Location() != time.UTC) {
			*out = append(*out, fmt.Sprintf("%s: got %s, want %s", path, g.Format(time.RFC3339Nano+" MST"), w.Format(time.RFC3339Nano+" MST")))
		}
		return
	}
	switch got.Kind() {
	case reflect.Pointer, reflect.Interface:
		switch {
		case got.IsNil() && want.IsNil():
		case got.IsNil() || want.IsNil():
			report(got.Interface(), want.Interface())
		default:
			diffValue(out, path, got.Elem(), want.Elem())
		}
	case reflect.Struct:
		for i := range got.NumField() {
			if f := got.Type().Field(i); f.IsExported() {
				diffValue(out, path+"."+f.Name, got.Field(i), want.Field(i))
			}
		}
	case reflect.Slice:
		if got.Len() != want.Len() {
			*out = append(*out, fmt.Sprintf("%s: got %d elements, want %d: got %#v, want %#v",
				path, got.Len(), want.Len(), got.Interface(), want.Interface()))
			return
		}
		for i := range got.Len() {
			diffValue(out, fmt.Sprintf("%s[%d]", path, i), got.Index(i), want.Index(i))
		}
	case reflect.Map:
		diffMap(out, path, got, want)
	default:
		if !reflect.DeepEqual(got.Interface(), want.Interface()) {
			report(got.Interface(), want.Interface())
		}
	}
}

func diffMap(out *[]string, path string, got, want reflect.Value) {
	keys := map[string]reflect.Value{}
	for _, k := range append(got.MapKeys(), want.MapKeys()...) {
		keys[fmt.Sprint(k.Interface())] = k
	}
	names := make([]string, 0, len(keys))
	for name := range keys {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		k := keys[name]
		g, w := got.MapIndex(k), want.MapIndex(k)
		p := fmt.Sprintf("%s[%q]", path, name)
		switch {
		case !g.IsValid():
			*out = append(*out, fmt.Sprintf("%s: missing, want %#v", p, w.Interface()))
		case !w.IsValid():
			*out = append(*out, fmt.Sprintf("%s: got %#v, want no such key", p, g.Interface()))
		default:
			diffValue(out, p, g, w)
		}
	}
}
