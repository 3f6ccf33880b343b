package main

import (
	"io"
	"log/slog"
	"testing"

	"github.com/incidentbot/incidentbot/internal/hostallow"
)

func TestGraphsAndSilencesOff(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	loopback, err := hostallow.Parse([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, url string
		derived   hostallow.List
		on        bool
	}{
		{"default: no URL, no derived host allowed", "", hostallow.List{}, false},
		{"derived hosts allowed: the generatorURL's host", "", loopback, true},
		{"a Prometheus", "http://127.0.0.1:9090", hostallow.List{}, true},
		{"off", "off", loopback, false},
		{"OFF, spaced", " OFF ", hostallow.List{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := newGrapher(&settings{PrometheusURL: tc.url, DerivedHosts: tc.derived}, log)
			if err != nil {
				t.Fatal(err)
			}
			// A typed nil inside the interface would pass for a Grapher.
			if on := g != nil; on != tc.on {
				t.Errorf("newGrapher(%q) on = %v, want %v", tc.url, on, tc.on)
			}
		})
	}
	if _, err := newGrapher(&settings{PrometheusURL: "ftp://prometheus"}, log); err == nil {
		t.Error("newGrapher accepted an ftp URL")
	}
	for _, tc := range []struct {
		name    string
		urls    []string
		derived hostallow.List
		on      bool
	}{
		{"default: no URL, no derived host allowed", nil, hostallow.List{}, false},
		{"derived hosts allowed: the externalURL's host", nil, loopback, true},
		{"an Alertmanager", []string{"http://127.0.0.1:9093"}, hostallow.List{}, true},
	} {
		s, err := newSilencer(&settings{AlertmanagerURLs: tc.urls, DerivedHosts: tc.derived}, log)
		if err != nil {
			t.Fatal(err)
		}
		if on := s != nil; on != tc.on {
			t.Errorf("%s: silences on = %v, want %v", tc.name, on, tc.on)
		}
	}
}
