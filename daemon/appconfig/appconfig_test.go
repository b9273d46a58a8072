package appconfig_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/giturl"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
	"github.com/appstore-dev/appstore/daemon/appconfig"
)

func TestKeyFileIsCreatedPrivateAndSealsPerApp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", appconfig.KeyFileName)
	if _, err := appconfig.OpenKeyring(path, false, nil); err == nil || !strings.Contains(err.Error(), "head -c 32 /dev/urandom") {
		t.Fatalf("a missing --secret-key-file: %v, want an error that says how to make one", err)
	}
	k, err := appconfig.OpenKeyring(path, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}
	sealed, id, err := k.Seal(7, "API_KEY", []byte("hunter2-value"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sealed), "hunter2") || id != k.CurrentID() {
		t.Fatalf("sealed %q with key %s", sealed, id)
	}
	if v, err := k.Open(7, "API_KEY", sealed, id); err != nil || string(v) != "hunter2-value" {
		t.Fatalf("open: %q %v", v, err)
	}
	// Bound to its app and name: moved to another row, it does not open,
	// and the error does not quote it.
	for _, c := range []struct {
		repo int64
		name string
	}{{8, "API_KEY"}, {7, "OTHER"}} {
		_, err := k.Open(c.repo, c.name, sealed, id)
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("open as app %d %s: %v, want a refusal without the value", c.repo, c.name, err)
		}
	}
	// The same file opens again with the same key; another key is named.
	k2, err := appconfig.OpenKeyring(path, true, nil)
	if err != nil || k2.CurrentID() != k.CurrentID() {
		t.Fatalf("reopen: %v, key %s want %s", err, k2.CurrentID(), k.CurrentID())
	}
	other, err := appconfig.OpenKeyring(filepath.Join(t.TempDir(), "k"), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Open(7, "API_KEY", sealed, id); err == nil || !strings.Contains(err.Error(), "restore the key file") {
		t.Errorf("open with another key file: %v", err)
	}
	// Garbage in the key file is refused.
	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.WriteFile(bad, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := appconfig.OpenKeyring(bad, false, nil); err == nil {
		t.Error("a key file without a key was accepted")
	}
}

func TestRedactorReplacesEveryValueLongestFirst(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	svc := newService(t, st)
	addApp(t, st, "red")
	for name, v := range map[string]string{"SHORT": "abcd", "LONG": "abcdefgh"} {
		if err := svc.SetSecret(ctx, "red", name, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	_, r, err := svc.Secrets(ctx, "red")
	if err != nil {
		t.Fatal(err)
	}
	got := r.String("x abcdefgh y abcd z")
	if got != "x [secret LONG] y [secret SHORT] z" {
		t.Errorf("redacted: %q", got)
	}
	var nilR *appconfig.Redactor
	if nilR.String("abcd") != "abcd" || nilR.Fragment("abcd") != "abcd" {
		t.Error("a nil redactor changed its text")
	}
	// A piece of a secret where the text was cut: at the start (the tail
	// of an output) and at the end (a line cut at its limit).
	addApp(t, st, "frag")
	if err := svc.SetSecret(ctx, "frag", "LONG", []byte("abcdefgh")); err != nil {
		t.Fatal(err)
	}
	if _, r, err = svc.Secrets(ctx, "frag"); err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"…efgh and more":   "…[secret LONG] and more",
		"defgh and more":   "[secret LONG] and more",
		"the key is abcde": "the key is [secret LONG]",
		"gh is too short":  "gh is too short",
		"no secret here":   "no secret here",
	} {
		if got := r.Fragment(in); got != want {
			t.Errorf("Fragment(%q) = %q, want %q", in, got, want)
		}
	}
}

func newService(t *testing.T, st *store.Store) *appconfig.Service {
	t.Helper()
	k, err := appconfig.OpenKeyring(filepath.Join(t.TempDir(), appconfig.KeyFileName), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &appconfig.Service{Store: st, Keys: k}
}

func addApp(t *testing.T, st *store.Store, slug string) {
	t.Helper()
	u, err := giturl.Parse("https://git.example.com/test/" + slug + ".git")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateRepository(context.Background(), store.NewRepository{GitURL: u.CloneURL(), GitURLKey: u.Key(), Name: slug}); err != nil {
		t.Fatal(err)
	}
}

func TestRotateKeyResealsEverySecretAndSurvivesAnInterruptedRun(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	svc := newService(t, st)
	addApp(t, st, "one")
	addApp(t, st, "two")
	for _, app := range []string{"one", "two"} {
		if err := svc.SetSecret(ctx, app, "TOKEN", []byte("value-of-"+app)); err != nil {
			t.Fatal(err)
		}
	}
	path := svc.Keys.Path()
	oldID := svc.Keys.CurrentID()
	oldFile, _ := os.ReadFile(path)

	rot, err := appconfig.RotateKey(ctx, st, path)
	if err != nil {
		t.Fatal(err)
	}
	if rot.Resealed != 2 || rot.OldKeyID != oldID || rot.NewKeyID == oldID {
		t.Fatalf("rotation %+v", rot)
	}
	if _, err := os.Stat(path + ".new"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the pending key file is left: %v", err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("new key file mode %v", st.Mode().Perm())
	}
	// The daemon that was running meanwhile reads the new key by itself.
	l, err := svc.LaunchConfig(ctx, "one")
	if err != nil {
		t.Fatalf("launch config after the rotation: %v", err)
	}
	if strings.Join(l.Env, ",") != "TOKEN=value-of-one" {
		t.Errorf("env %q", l.Env)
	}
	if svc.Keys.CurrentID() != rot.NewKeyID {
		t.Errorf("the running keyring seals with %s, want the new %s", svc.Keys.CurrentID(), rot.NewKeyID)
	}

	// An interrupted rotation: the new key written, the secrets resealed,
	// the key file not replaced yet. The daemon reads both; running
	// rotate-key again finishes the job.
	newFile, _ := os.ReadFile(path)
	rot2, err := appconfig.RotateKey(ctx, st, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".new"); err != nil { // undo the last rename: the crash
		t.Fatal(err)
	}
	if err := os.WriteFile(path, newFile, 0o600); err != nil {
		t.Fatal(err)
	}
	fresh, err := appconfig.OpenKeyring(path, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	crashed := &appconfig.Service{Store: st, Keys: fresh}
	if l, err := crashed.LaunchConfig(ctx, "two"); err != nil || strings.Join(l.Env, ",") != "TOKEN=value-of-two" {
		t.Fatalf("secrets after an interrupted rotation: %v %v", l, err)
	}
	rot3, err := appconfig.RotateKey(ctx, st, path)
	if err != nil {
		t.Fatal(err)
	}
	if rot3.Resealed != 0 || rot3.NewKeyID != rot2.NewKeyID {
		t.Errorf("the resumed rotation %+v, want nothing resealed and key %s", rot3, rot2.NewKeyID)
	}
	if string(oldFile) == string(newFile) {
		t.Error("the key file did not change")
	}
}

func TestLaunchConfigRefusesMissingRequiredAndAppliesDefaults(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	svc := newService(t, st)
	addApp(t, st, "rag")
	declared := `[{"name":"OPENAI_API_KEY","required":true,"secret":true,"source":"tags.yaml"},{"name":"GREETING","default":"hello","source":"tags.yaml"},{"name":"MODEL","required":true,"source":"tags.yaml"}]`
	if _, err := st.Pool().Exec(ctx, `UPDATE repositories SET metadata = jsonb_set(coalesce(metadata, '{}'), '{env}', $1::jsonb) WHERE slug = 'rag'`, declared); err != nil {
		t.Fatal(err)
	}
	_, err := svc.LaunchConfig(ctx, "rag")
	var missing *catalog.MissingConfigError
	if !errors.As(err, &missing) || len(missing.Missing) != 2 {
		t.Fatalf("launch config: %v, want both required names missing", err)
	}
	msg := err.Error()
	for _, want := range []string{"appstore secret set rag OPENAI_API_KEY", "appstore env set rag MODEL=…"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q does not say %q", msg, want)
		}
	}
	if err := svc.SetSecret(ctx, "rag", "OPENAI_API_KEY", []byte("sk-1234")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetEnv(ctx, "rag", []catalog.EnvVar{{Name: "MODEL", Value: "small"}, {Name: "GREETING", Value: "hi"}}); err != nil {
		t.Fatal(err)
	}
	l, err := svc.LaunchConfig(ctx, "rag")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(l.Env, ","); got != "GREETING=hi,MODEL=small,OPENAI_API_KEY=sk-1234" {
		t.Errorf("env %q", got)
	}
	// A variable may not shadow a secret, nor a secret a variable.
	if _, err := st.SetEnv(ctx, "rag", []catalog.EnvVar{{Name: "OPENAI_API_KEY", Value: "x"}}); !errors.Is(err, catalog.ErrInvalid) {
		t.Errorf("a variable named like a secret: %v", err)
	}
	if err := svc.SetSecret(ctx, "rag", "MODEL", []byte("abcdef")); !errors.Is(err, catalog.ErrInvalid) {
		t.Errorf("a secret named like a variable: %v", err)
	}
}

func TestConfigLimits(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	addApp(t, st, "big")
	var vars []catalog.EnvVar
	for i := 0; i <= catalog.MaxEnvPerApp; i++ {
		vars = append(vars, catalog.EnvVar{Name: "V" + strings.Repeat("X", i%5) + string(rune('A'+i%26)) + string(rune('A'+i/26)), Value: "1"})
	}
	if _, err := st.SetEnv(ctx, "big", vars); !errors.Is(err, catalog.ErrInvalid) || !strings.Contains(err.Error(), "at most") {
		t.Errorf("%d variables: %v", len(vars), err)
	}
	c, err := st.AppConfig(ctx, "big")
	if err != nil || len(c.Variables) != 0 || c.Version != 0 {
		t.Errorf("a refused change left %d variables, version %d (%v)", len(c.Variables), c.Version, err)
	}
	big := strings.Repeat("x", catalog.MaxEnvValueLen)
	var many []catalog.EnvVar
	for i := 0; i < 9; i++ {
		many = append(many, catalog.EnvVar{Name: "BIG" + string(rune('A'+i)), Value: big})
	}
	if _, err := st.SetEnv(ctx, "big", many); !errors.Is(err, catalog.ErrInvalid) {
		t.Errorf("%d bytes of variables: %v", 9*len(big), err)
	}
}
