package main

import (
	"testing"
	"time"
)

func TestParseRetention(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, true},
		{"0", 0, true},
		{"400d", 400 * 24 * time.Hour, true},
		{" 30d ", 30 * 24 * time.Hour, true},
		{"9600h", 9600 * time.Hour, true},
		{"0d", 0, false},
		{"-5d", 0, false},
		{"1.5d", 0, false},
		{"10m", 0, false}, // surely a typo: deleting incidents resolved 10 minutes ago
		{"forever", 0, false},
		{"99999d", 0, false},
	}
	for _, tt := range tests {
		got, err := parseRetention(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("parseRetention(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
