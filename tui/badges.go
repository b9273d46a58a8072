package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// Badges say a state in a word with a marker, so that they read the same
// without colour; the colour only repeats it.

func (s *Styles) ingestBadge(st catalog.IngestStatus) string {
	switch st {
	case catalog.IngestReady:
		return s.Good.Render("● ready")
	case catalog.IngestProcessing:
		return s.Busy.Render("◐ ingesting")
	case catalog.IngestQueued:
		return s.Busy.Render("○ queued")
	case catalog.IngestFailed:
		return s.Bad.Render("✗ ingest failed")
	}
	return s.Idle.Render("? " + string(st))
}

func (s *Styles) buildBadge(b *catalog.BuildSummary) string {
	if b == nil {
		return s.Idle.Render("– no build")
	}
	return s.buildStatus(b.Status)
}

func (s *Styles) buildStatus(st catalog.BuildStatus) string {
	switch st {
	case catalog.BuildSucceeded:
		return s.Good.Render("✓ built")
	case catalog.BuildRunning:
		return s.Busy.Render("◐ building")
	case catalog.BuildQueued:
		return s.Busy.Render("○ build queued")
	case catalog.BuildFailed:
		return s.Bad.Render("✗ build failed")
	case catalog.BuildCancelled:
		return s.Idle.Render("– cancelled")
	}
	return s.Idle.Render("? " + string(st))
}

// launchBadge is empty for no launch or one that ended: a row only
// mentions apps that are up or on their way.
func (s *Styles) launchBadge(l *client.Launch) string {
	if l == nil {
		return ""
	}
	switch l.Status {
	case catalog.LaunchStarting:
		return s.Busy.Render("▶ starting")
	case catalog.LaunchRunning:
		return s.Good.Render("▶ running")
	case catalog.LaunchStopping:
		return s.Busy.Render("■ stopping")
	}
	return ""
}

func formatMS(ms *int64) string {
	if ms == nil {
		return ""
	}
	d := time.Duration(*ms) * time.Millisecond
	if d < time.Second {
		return d.String()
	}
	return d.Round(100 * time.Millisecond).String()
}

// joinNonEmpty joins the non-empty parts with sep.
func joinNonEmpty(sep string, parts ...string) string {
	out := parts[:0:0]
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
