package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// Version returns the daemon's version and API level.
func (c *Client) Version(ctx context.Context) (*VersionInfo, error) {
	return doJSON[VersionInfo](ctx, c, http.MethodGet, apiPath("version"), nil, nil)
}

// Health asks /healthz whether the daemon process is alive.
func (c *Client) Health(ctx context.Context) (*Health, error) {
	return doJSON[Health](ctx, c, http.MethodGet, "/healthz", nil, nil)
}

// Ready asks /readyz whether the daemon can serve (its database is
// reachable, and so on). When it is not, Ready returns the daemon's report
// of its checks together with an *APIError (status 503, code unavailable)
// whose message names the failing checks.
func (c *Client) Ready(ctx context.Context) (*Health, error) {
	h, err := doJSON[Health](ctx, c, http.MethodGet, "/readyz", nil, nil)
	if err == nil {
		return h, nil
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusServiceUnavailable {
		return nil, err
	}
	var report Health
	if json.Unmarshal(ae.body, &report) != nil || report.Status == "" {
		return nil, err
	}
	if ae.Message == "" || strings.HasPrefix(ae.Message, "appstored answered") {
		ae.Message = notReadyMessage(&report)
	}
	ae.Code = CodeUnavailable
	return &report, ae
}

// notReadyMessage names the failing required checks, in a stable order.
func notReadyMessage(h *Health) string {
	var failing []string
	for name, chk := range h.Checks {
		if chk.OK || chk.Optional {
			continue
		}
		s := name
		if chk.Message != "" {
			s += ": " + chk.Message
		}
		failing = append(failing, s)
	}
	sort.Strings(failing)
	if len(failing) == 0 {
		return fmt.Sprintf("appstored is not ready (status %s)", h.Status)
	}
	return "appstored is not ready: " + strings.Join(failing, "; ")
}
