package daemon_test

import (
	"context"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/daemon"
)

// TestExposureModel pins docs/operations.md's table: which configurations
// are local-only, what an exposed one requires and refuses, and what each
// opt-in admits again.
func TestExposureModel(t *testing.T) {
	const token = "0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		name      string
		cfg       daemon.Config
		exposed   bool
		local     bool // file:// and local paths
		private   bool // private Git addresses
		errorText string
	}{
		{name: "loopback", cfg: daemon.Config{Addr: "127.0.0.1:7070"}, local: true, private: true},
		{name: "localhost", cfg: daemon.Config{Addr: "localhost:7070"}, local: true, private: true},
		{name: "IPv6 loopback", cfg: daemon.Config{Addr: "[::1]:7070"}, local: true, private: true},
		{name: "loopback names allowed", cfg: daemon.Config{Addr: "127.0.0.1:7070", AllowedHosts: []string{"localhost", "*.localhost", "127.0.0.2", "[::1]"}}, local: true, private: true},
		{name: "proxy name without a token", cfg: daemon.Config{Addr: "127.0.0.1:7070", AllowedHosts: []string{"localhost", "appstore.example.com"}},
			exposed: true, errorText: "--allowed-host appstore.example.com"},
		{name: "wildcard proxy name without a token", cfg: daemon.Config{Addr: "127.0.0.1:7070", AllowedHosts: []string{"*.apps.example.com"}},
			exposed: true, errorText: "--allowed-host *.apps.example.com"},
		{name: "all interfaces without a token", cfg: daemon.Config{Addr: "0.0.0.0:7070"}, exposed: true, errorText: "--addr 0.0.0.0:7070"},
		{name: "proxy name", cfg: daemon.Config{Addr: "127.0.0.1:7070", AllowedHosts: []string{"appstore.example.com"}, Token: token}, exposed: true},
		{name: "all interfaces", cfg: daemon.Config{Addr: "0.0.0.0:7070", Token: token}, exposed: true},
		{name: "private opt-in", cfg: daemon.Config{Addr: "0.0.0.0:7070", Token: token, GitAllowPrivate: true}, exposed: true, private: true},
		{name: "local repositories opt-in", cfg: daemon.Config{Addr: "0.0.0.0:7070", Token: token, AllowLocalRepos: true}, exposed: true, local: true},
		{name: "worker behind the same proxy name", cfg: daemon.Config{Addr: "127.0.0.1:7071", AllowedHosts: []string{"appstore.example.com"}, Roles: []string{daemon.RoleWorker}}, exposed: true},
		{name: "short token", cfg: daemon.Config{Addr: "127.0.0.1:7070", Token: "fifteen-bytes!!"}, errorText: "15 bytes"},
		{name: "short service token", cfg: daemon.Config{Addr: "127.0.0.1:7070", ServiceToken: "svc"}, errorText: "--service-token"},
		{name: "short webhook secret", cfg: daemon.Config{Addr: "127.0.0.1:7070", WebhookSecret: "hook"}, errorText: "--webhook-secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.DataDir = t.TempDir()
			if got := tc.cfg.Exposed(); got != tc.exposed {
				t.Errorf("Exposed() = %v, want %v", got, tc.exposed)
			}
			err := tc.cfg.Check()
			if tc.errorText != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errorText) || !strings.Contains(err.Error(), "openssl rand -hex 32") {
					t.Errorf("Check() = %v, want a refusal naming %q that says how to make a token", err, tc.errorText)
				}
				if _, err := daemon.Start(context.Background(), tc.cfg); err == nil {
					t.Error("Start accepted what Check refuses")
				}
				return
			}
			if err != nil {
				t.Fatalf("Check() = %v", err)
			}
			p := tc.cfg.GitPolicy()
			if p.AllowLocal != tc.local || p.AllowPrivate != tc.private {
				t.Errorf("Git policy: local %v private %v, want %v %v", p.AllowLocal, p.AllowPrivate, tc.local, tc.private)
			}
		})
	}
}
