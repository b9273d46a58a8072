package runner_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	appclient "github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon/appconfig"
	"github.com/appstore-dev/appstore/daemon/runner"
	"github.com/appstore-dev/appstore/daemon/runner/runnertest"
)

// syncBuffer is a bytes.Buffer for concurrent writers (the runner's log).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// answerRecorder keeps every answer the API client got.
type answerRecorder struct {
	mu      sync.Mutex
	answers bytes.Buffer
}

func (a *answerRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	a.mu.Lock()
	a.answers.WriteString(req.Method + " " + req.URL.String() + "\n")
	for k, v := range resp.Header {
		a.answers.WriteString(k + ": " + strings.Join(v, ",") + "\n")
	}
	a.answers.Write(body)
	a.answers.WriteString("\n")
	a.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, err
}

func (a *answerRecorder) String() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.answers.String()
}

// configHarness is a harness whose runner gives apps their configuration,
// with the runner's log and the API's answers kept to be searched.
func configHarness(t *testing.T) (*harness, *syncBuffer, *answerRecorder) {
	t.Helper()
	keys, err := appconfig.OpenKeyring(filepath.Join(t.TempDir(), appconfig.KeyFileName), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(logs, &testWriter{t: t}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := newHarness(t, runner.Config{AppConfig: &appconfig.Service{Keys: keys, Logger: logger}, Logger: logger})
	rec := &answerRecorder{}
	h.api.HTTPClient = &http.Client{Transport: rec}
	return h, logs, rec
}

func appEnv(t *testing.T, h *harness, slug string) []string {
	t.Helper()
	resp, body := h.get(h.previewURL(slug, "/env"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /env: %d %s", resp.StatusCode, body)
	}
	var env []string
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		t.Fatalf("GET /env: %v: %s", err, body)
	}
	return env
}

func hasEnv(env []string, kv string) bool {
	for _, e := range env {
		if e == kv {
			return true
		}
	}
	return false
}

func TestVariablesAndSecretsReachTheAppAndTheSecretLeaksNowhere(t *testing.T) {
	h, logs, rec := configHarness(t)
	ctx := context.Background()
	h.app("cfg", 0, runnertest.ImageOptions{})
	var b [16]byte
	_, _ = rand.Read(b[:])
	secret := "sk-" + hex.EncodeToString(b[:])

	if _, err := h.api.SetEnv(ctx, "cfg", map[string]string{"GREETING": "hello-from-env"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.api.SetSecret(ctx, "cfg", "API_KEY", secret); err != nil {
		t.Fatal(err)
	}
	// At rest the row holds ciphertext, not the value.
	var sealed []byte
	if err := h.st.Pool().QueryRow(ctx, `SELECT ciphertext FROM repository_secrets WHERE name = 'API_KEY'`).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte(secret)) || len(sealed) < len(secret)+28 {
		t.Fatalf("the stored secret is not sealed: %q", sealed)
	}

	l := h.launch("cfg", appclient.LaunchRequest{})
	if l.Status != catalog.LaunchRunning {
		t.Fatalf("launch: %s %s", l.Status, l.ErrorMessage)
	}
	env := appEnv(t, h, "cfg")
	for _, want := range []string{"GREETING=hello-from-env", "API_KEY=" + secret, "PORT=8080"} {
		if !hasEnv(env, want) {
			t.Errorf("the app's environment lacks %s: %q", strings.Split(want, "=")[0], env)
		}
	}

	// The app prints its secret: its output, as the API streams it, shows
	// the secret's name instead.
	h.get(h.previewURL("cfg", "/print?b64="+base64.URLEncoding.EncodeToString([]byte("token="+secret+"\n"))))
	var line string
	waitFor(t, 10*time.Second, "the printed line in the launch's output", func() bool {
		for ll, err := range h.api.LaunchLogs(ctx, l.ID, appclient.LaunchLogsOptions{}) {
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(ll.Line, "token=") {
				line = ll.Line
				return true
			}
		}
		return false
	})
	if line != "token=[secret API_KEY]" {
		t.Errorf("the app's output through the API = %q, want the secret redacted", line)
	}

	// A change of configuration marks the running launch; a plain launch
	// joins it, a restart replaces it with the new configuration.
	if _, err := h.api.SetEnv(ctx, "cfg", map[string]string{"GREETING": "changed"}); err != nil {
		t.Fatal(err)
	}
	got, err := h.api.Launch(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.ConfigChanged {
		t.Error("a running launch whose variables changed is not marked config_changed")
	}
	reused, err := h.api.StartLaunch(ctx, "cfg", appclient.LaunchRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if reused.ID != l.ID || reused.Origin != "reused" || !reused.ConfigChanged {
		t.Errorf("a plain launch: id %d origin %s config_changed %v, want launch %d reused and marked", reused.ID, reused.Origin, reused.ConfigChanged, l.ID)
	}
	l2 := h.launch("cfg", appclient.LaunchRequest{Restart: true})
	if l2.ID == l.ID || l2.Status != catalog.LaunchRunning || l2.ConfigChanged {
		t.Fatalf("launch --restart: launch %d %s config_changed %v, want a new running launch (old %d)", l2.ID, l2.Status, l2.ConfigChanged, l.ID)
	}
	old := h.waitStatus(l.ID, catalog.LaunchStopped, 30*time.Second)
	if old.StopReason != "replaced" {
		t.Errorf("the restarted launch stopped with reason %q, want replaced", old.StopReason)
	}
	waitFor(t, 10*time.Second, "the preview to serve the new configuration", func() bool {
		return hasEnv(appEnv(t, h, "cfg"), "GREETING=changed")
	})

	// The app dies after printing its secret: the failure, its event and
	// the API's answers quote its output with the secret redacted.
	h.get(h.previewURL("cfg", "/print?b64="+base64.URLEncoding.EncodeToString([]byte("dying with "+secret+"\n"))))
	h.get(h.previewURL("cfg", "/exit?code=3"))
	failed := h.waitStatus(l2.ID, catalog.LaunchFailed, 30*time.Second)
	if !strings.Contains(failed.ErrorMessage, "dying with [secret API_KEY]") {
		t.Errorf("the failure message does not quote the redacted output: %q", failed.ErrorMessage)
	}

	// Every output of the test: the API's answers (the ones above and the
	// reads below), the event log, the runner's log, the launch rows.
	if _, err := h.api.Launch(ctx, l2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := h.api.Launches(ctx, appclient.ListLaunchesOptions{Repository: "cfg"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.api.AppConfig(ctx, "cfg"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.api.Secrets(ctx, "cfg"); err != nil {
		t.Fatal(err)
	}
	evs, err := h.st.Events(ctx, store.EventFilter{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	evJSON, _ := json.Marshal(evs)
	ls, err := h.st.ListLaunches(ctx, store.LaunchFilter{Repository: "cfg"})
	if err != nil {
		t.Fatal(err)
	}
	lsJSON, _ := json.Marshal(ls)
	if !strings.Contains(string(evJSON), "repository.config_changed") {
		t.Error("no repository.config_changed event")
	}
	for what, out := range map[string]string{"API answers": rec.String(), "events": string(evJSON), "runner log": logs.String(), "launch rows": string(lsJSON)} {
		if strings.Contains(out, secret) {
			t.Errorf("the secret's value appears in the %s", what)
		}
		if strings.Contains(out, secret[3:15]) {
			t.Errorf("part of the secret's value appears in the %s", what)
		}
	}
	if !strings.Contains(rec.String(), "[secret API_KEY]") {
		t.Error("the API answers never showed the redaction marker: the search above looked at nothing")
	}
}

func TestMissingRequiredSecretRefusesTheLaunchWithTheCommandToRun(t *testing.T) {
	h, _, _ := configHarness(t)
	ctx := context.Background()
	repoID, _ := h.app("rag", 0, runnertest.ImageOptions{})
	declared := `[{"name":"OPENAI_API_KEY","description":"key for the embeddings","required":true,"secret":true,"source":"tags.yaml"},
		{"name":"GREETING","default":"hello","source":"tags.yaml"}]`
	if _, err := h.st.Pool().Exec(ctx, `UPDATE repositories SET metadata = jsonb_set(coalesce(metadata, '{}'), '{env}', $2::jsonb) WHERE id = $1`, repoID, declared); err != nil {
		t.Fatal(err)
	}
	_, err := h.api.StartLaunch(ctx, "rag", appclient.LaunchRequest{})
	var ae *appclient.APIError
	if !appclient.IsConfigMissing(err) || !errors.As(err, &ae) || ae.StatusCode != http.StatusConflict {
		t.Fatalf("launch without the required secret: %v, want 409 config_missing", err)
	}
	if !strings.Contains(err.Error(), "appstore secret set rag OPENAI_API_KEY") {
		t.Errorf("the refusal does not say what to run: %q", err)
	}
	if ls, _ := h.st.ListLaunches(ctx, store.LaunchFilter{Repository: "rag"}); len(ls) != 0 {
		t.Errorf("the refused launch left %d launch rows", len(ls))
	}
	if cs := runnertest.Containers(t, h.docker, h.r.ID()); len(cs) != 0 {
		t.Errorf("the refused launch left %d containers", len(cs))
	}
	cfg, err := h.api.AppConfig(ctx, "rag")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Missing) != 1 || cfg.Missing[0] != "OPENAI_API_KEY" || len(cfg.Declared) != 2 || cfg.Declared[1].SetBy != "default" {
		t.Errorf("configuration: missing %v, declared %+v", cfg.Missing, cfg.Declared)
	}

	if _, err := h.api.SetSecret(ctx, "rag", "OPENAI_API_KEY", "sk-test-value-1234"); err != nil {
		t.Fatal(err)
	}
	l := h.launch("rag", appclient.LaunchRequest{})
	if l.Status != catalog.LaunchRunning {
		t.Fatalf("launch with the secret set: %s %s", l.Status, l.ErrorMessage)
	}
	env := appEnv(t, h, "rag")
	if !hasEnv(env, "OPENAI_API_KEY=sk-test-value-1234") || !hasEnv(env, "GREETING=hello") {
		t.Errorf("environment %q lacks the secret or the declared default", env)
	}
}

// TestWarmContainerWithOldConfigurationIsNotAttached: a change of
// variables retires the app's warm container; a launch then gets a
// container with the new configuration, never the stale one.
func TestWarmContainerWithOldConfigurationIsNotAttached(t *testing.T) {
	keys, err := appconfig.OpenKeyring(filepath.Join(t.TempDir(), appconfig.KeyFileName), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, runner.Config{WarmPool: 1, WarmInterval: 200 * time.Millisecond, AppConfig: &appconfig.Service{Keys: keys}})
	ctx := context.Background()
	repoID, _ := h.app("warmcfg", 0, runnertest.ImageOptions{})
	if _, err := h.api.SetEnv(ctx, "warmcfg", map[string]string{"GREETING": "old"}); err != nil {
		t.Fatal(err)
	}
	stale := h.waitWarm(repoID)
	if _, err := h.api.SetEnv(ctx, "warmcfg", map[string]string{"GREETING": "new"}); err != nil {
		t.Fatal(err)
	}
	l, err := h.api.StartLaunch(ctx, "warmcfg", appclient.LaunchRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if l.ID == stale.ID {
		t.Fatalf("the launch attached warm container %d, started before the change", stale.ID)
	}
	if l, err = h.api.WaitLaunch(ctx, l.ID, time.Minute); err != nil || l.Status != catalog.LaunchRunning {
		t.Fatalf("launch: %v %+v", err, l)
	}
	if env := appEnv(t, h, "warmcfg"); !hasEnv(env, "GREETING=new") {
		t.Errorf("the launch runs with %q, want GREETING=new", env)
	}
	h.waitStatus(stale.ID, catalog.LaunchStopped, 30*time.Second)
}
