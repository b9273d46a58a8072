package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/catalog/giturl"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
	"github.com/appstore-dev/appstore/daemon/api"
	"github.com/appstore-dev/appstore/daemon/appconfig"
)

// TestEnvAndSecretRoutes: changes need the daemon token, names and sizes
// are checked, and no answer carries a secret's value.
func TestEnvAndSecretRoutes(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	u, _ := giturl.Parse("https://git.example.com/acme/rag.git")
	if _, err := st.CreateRepository(ctx, store.NewRepository{GitURL: u.CloneURL(), GitURLKey: u.Key(), Name: "rag"}); err != nil {
		t.Fatal(err)
	}
	keys, err := appconfig.OpenKeyring(filepath.Join(t.TempDir(), appconfig.KeyFileName), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &api.Server{Store: st, Guard: &api.Guard{Loopback: true, Token: guardToken},
		AppConfig: &api.AppConfig{Store: st, Service: &appconfig.Service{Store: st, Keys: keys}}}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	a := &apiTest{t: t, srv: srv}
	auth := []string{"Authorization", "Bearer " + guardToken}
	const secret = "sk-very-secret-value-42"
	var answers strings.Builder
	do := func(method, path, body string, header ...string) (int, []byte) {
		code, b := a.do(method, path, body, header...)
		answers.Write(b)
		return code, b
	}

	// Without the token nothing changes.
	for _, c := range []struct{ method, path, body string }{
		{http.MethodPatch, "/api/v1/repositories/rag/env", `{"set":{"A":"1"}}`},
		{http.MethodPut, "/api/v1/repositories/rag/secrets/KEY", `{"value":"` + secret + `"}`},
		{http.MethodDelete, "/api/v1/repositories/rag/secrets/KEY", ``},
	} {
		if code, b := do(c.method, c.path, c.body); code != http.StatusUnauthorized {
			t.Errorf("%s %s without the token: %d %s", c.method, c.path, code, b)
		}
	}
	if c, _ := st.AppConfig(ctx, "rag"); len(c.Variables)+len(c.Secrets) != 0 || c.Version != 0 {
		t.Fatalf("refused requests changed the configuration: %+v", c)
	}

	// Bad names and values are refused with the field.
	for body, field := range map[string]string{
		`{"set":{"PORT":"1"}}`:            "name",
		`{"set":{"1A":"1"}}`:              "name",
		`{"set":{"A":"x\u0000"}}`:         "value",
		`{"set":{"A":"1"},"unset":["B"]}`: "unset",
		`{}`:                              "set",
	} {
		code, b := do(http.MethodPatch, "/api/v1/repositories/rag/env", body, auth...)
		if code != http.StatusBadRequest || errorOf(t, b).Field != field {
			t.Errorf("PATCH %s: %d %s, want 400 on %s", body, code, b, field)
		}
	}
	if code, b := do(http.MethodPut, "/api/v1/repositories/rag/secrets/K", `{"value":"abc"}`, auth...); code != http.StatusBadRequest {
		t.Errorf("a 3-byte secret: %d %s", code, b)
	}

	code, b := do(http.MethodPatch, "/api/v1/repositories/rag/env", `{"set":{"MODEL":"small","TOP_K":"5"}}`, auth...)
	var cfg apitype.AppConfig
	if code != http.StatusOK || json.Unmarshal(b, &cfg) != nil || len(cfg.Variables) != 2 || cfg.ConfigVersion != 1 {
		t.Fatalf("set: %d %s", code, b)
	}
	code, b = do(http.MethodPut, "/api/v1/repositories/rag/secrets/OPENAI_API_KEY", `{"value":"`+secret+`"}`, auth...)
	if code != http.StatusOK || !strings.Contains(string(b), `"name":"OPENAI_API_KEY"`) {
		t.Fatalf("put secret: %d %s", code, b)
	}
	code, b = do(http.MethodPatch, "/api/v1/repositories/rag/env", `{"unset":["TOP_K","NOPE"]}`, auth...)
	if code != http.StatusOK || json.Unmarshal(b, &cfg) != nil || len(cfg.Variables) != 1 || strings.Join(cfg.NotSet, ",") != "NOPE" || cfg.ConfigVersion != 3 {
		t.Fatalf("unset: %d %s", code, b)
	}
	if code, b := do(http.MethodGet, "/api/v1/repositories/rag/secrets", ""); code != http.StatusOK || !strings.Contains(string(b), "OPENAI_API_KEY") {
		t.Errorf("list secrets: %d %s", code, b)
	}
	if code, b := do(http.MethodGet, "/api/v1/repositories/rag/env", ""); code != http.StatusOK || !strings.Contains(string(b), `"secrets":[{"name":"OPENAI_API_KEY"`) {
		t.Errorf("env: %d %s", code, b)
	}
	if code, b := do(http.MethodGet, "/api/v1/repositories/nope/env", ""); code != http.StatusNotFound {
		t.Errorf("unknown app: %d %s", code, b)
	}
	if code, b := do(http.MethodDelete, "/api/v1/repositories/rag/secrets/NOPE", "", auth...); code != http.StatusNotFound {
		t.Errorf("delete a secret that is not set: %d %s", code, b)
	}
	if code, b := do(http.MethodDelete, "/api/v1/repositories/rag/secrets/OPENAI_API_KEY", "", auth...); code != http.StatusNoContent {
		t.Errorf("delete: %d %s", code, b)
	}
	evs, err := st.Events(ctx, store.EventFilter{Topics: []string{"repository"}})
	if err != nil {
		t.Fatal(err)
	}
	evJSON, _ := json.Marshal(evs)
	if strings.Contains(answers.String(), secret) || strings.Contains(string(evJSON), secret) {
		t.Error("the secret's value appears in an answer or an event")
	}
	if !strings.Contains(string(evJSON), `"kind":"secrets"`) {
		t.Errorf("no config_changed event for the secrets: %s", evJSON)
	}
}
