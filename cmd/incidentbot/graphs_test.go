package main

import "testing"

func TestGraphsOff(t *testing.T) {
	for _, tc := range []struct {
		name, url string
		on        bool
	}{
		{"default: the generatorURL's host", "", true},
		{"a Prometheus", "http://127.0.0.1:9090", true},
		{"off", "off", false},
		{"OFF, spaced", " OFF ", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := newGrapher(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			// A typed nil inside the interface would pass for a Grapher.
			if on := g != nil; on != tc.on {
				t.Errorf("newGrapher(%q) on = %v, want %v", tc.url, on, tc.on)
			}
		})
	}
	if _, err := newGrapher("ftp://prometheus"); err == nil {
		t.Error("newGrapher accepted an ftp URL")
	}
}
