package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
	"github.com/appstore-dev/appstore/daemon/api"
)

const rolesDaemonToken = "the-daemon-token-0123456789"

// matrixActor is one sender of the role matrix.
type matrixActor struct {
	name  string // "" for anonymous
	role  catalog.Role
	token string
}

// TestRoleMatrix sends every changing route of the route table as each
// kind of sender — anonymous, a viewer, a member on an app it owns and on
// one it does not, an admin account, the daemon token — and checks that it
// is let through or refused as the roles say, with the right status and a
// message that says why. The routes come from the table itself: a route
// with a guard kind the matrix does not know fails the test, so a new
// route cannot be left out.
func TestRoleMatrix(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	s := &api.Server{Store: st, Guard: &api.Guard{Loopback: true, Token: rolesDaemonToken, ServiceToken: "the-service-token-0123456789", FailureBurst: 1 << 20}}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)

	account := func(name string, role catalog.Role) *matrixActor {
		token, hash := catalog.NewUserToken()
		if _, err := st.CreateUser(ctx, store.NewUser{Name: name, Role: role, TokenHash: hash, CreatedBy: "test"}); err != nil {
			t.Fatal(err)
		}
		return &matrixActor{name: name, role: role, token: token}
	}
	actors := []*matrixActor{
		{},
		account("vic", catalog.RoleViewer),
		account("mia", catalog.RoleMember),
		account("ada", catalog.RoleAdmin),
		{name: catalog.TokenUser, role: catalog.RoleAdmin, token: rolesDaemonToken},
	}
	account("olga", catalog.RoleMember) // owns "theirs"

	// The apps: "mine" is mia's, "theirs" olga's. Each has a build. An
	// allowed request may remove an app or a user: they come back before
	// the next request.
	ensureApp := func(slug, owner string) int64 {
		if _, err := st.Repository(ctx, slug); err != nil {
			r, err := st.CreateRepository(ctx, store.NewRepository{GitURL: "https://example.com/" + slug + ".git", GitURLKey: "example.com/" + slug, Name: slug, OwnedBy: owner})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Pool().Exec(ctx, `UPDATE repositories SET ingest_status = 'ready', last_commit_sha = $2,
				dockerfile_path = 'Dockerfile', context_path = '.' WHERE id = $1`, r.ID, strings.Repeat("ab", 20)); err != nil {
				t.Fatal(err)
			}
		}
		b, _, err := st.CreateBuild(ctx, slug, false)
		if err != nil {
			t.Fatal(err)
		}
		return b.ID
	}
	ensureUser := func(name string) {
		if _, err := st.User(ctx, name); err != nil {
			_, hash := catalog.NewUserToken()
			if _, err := st.CreateUser(ctx, store.NewUser{Name: name, Role: catalog.RoleMember, TokenHash: hash}); err != nil {
				t.Fatal(err)
			}
		}
	}

	routes := api.RouteTable(&api.Server{Store: st})
	tested, added := 0, 0
	seen := map[string]bool{}
	for _, rt := range routes {
		key := rt.Method + " " + rt.Path
		if rt.Method == "" {
			key = "ANY " + rt.Path
		}
		switch rt.Guard {
		case "read", "signed":
			// Reads are open; webhooks have their own secret
			// (guard_test.go).
			continue
		}
		want, ok := rolePolicy[key]
		if !ok {
			t.Errorf("route %s (guard %s) is not in rolePolicy: say there who may use it", key, rt.Guard)
			continue
		}
		seen[key] = true
		if rt.Guard != want {
			t.Errorf("route %s has guard %s, want %s", key, rt.Guard, want)
		}
		rt.Guard = want
		method := rt.Method
		if method == "" {
			method = http.MethodPost // the fallbacks: a changing method
		}
		for _, a := range actors {
			// Which app, build and user the path names, and whether the
			// sender owns or is them.
			variants := []bool{true}
			if strings.Contains(rt.Path, "{slug}") || strings.Contains(rt.Path, "{id}") || strings.Contains(rt.Path, "{name}") {
				variants = []bool{true, false}
			}
			for _, own := range variants {
				owner := "olga"
				if own {
					owner = "mia"
				}
				slug := map[bool]string{true: "mine", false: "theirs"}[own]
				buildID := ensureApp(slug, owner)
				userName := "victim"
				if own && a.name != "" && !strings.HasPrefix(rt.Path, "/api/v1/users/{name}") || own && rt.Method == http.MethodPost && a.name != "" && strings.HasSuffix(rt.Path, "/token") {
					userName = a.name
				}
				if rt.Method == http.MethodDelete && strings.HasPrefix(rt.Path, "/api/v1/users/") {
					userName = "victim"
				}
				ensureUser("victim")
				path := strings.NewReplacer("{slug}", slug, "{name}", userName, "{$}", "").Replace(rt.Path)
				if strings.HasPrefix(rt.Path, "/api/v1/builds/") {
					path = strings.Replace(path, "{id}", fmt.Sprint(buildID), 1)
				}
				if strings.HasPrefix(rt.Path, "/api/v1/launches/") {
					// A launch of the sender's (own) or olga's, ended, so
					// that a stop let through answers without a runner.
					starter := "olga"
					if own && a.name != "" {
						starter = a.name
					}
					var launchID int64
					if err := st.Pool().QueryRow(ctx, `INSERT INTO launches (repository_id, status, launched_by)
						VALUES ((SELECT id FROM repositories WHERE slug = $1), 'stopped', (SELECT id FROM users WHERE name = $2)) RETURNING id`,
						slug, starter).Scan(&launchID); err != nil {
						t.Fatal(err)
					}
					path = strings.Replace(path, "{id}", fmt.Sprint(launchID), 1)
				}
				path = strings.Replace(path, "{id}", "1", 1)
				if rt.Path == "/api/" {
					path = "/api/v1/nothing-here"
				}
				body := `{}`
				if rt.Path == "/api/v1/users" {
					added++
					body = fmt.Sprintf(`{"name":"new-%d"}`, added)
				}
				req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				if rt.Guard == "websocket" {
					req.Header.Set("Upgrade", "websocket")
					req.Header.Set("Connection", "Upgrade")
				}
				if a.token != "" {
					req.Header.Set("Authorization", "Bearer "+a.token)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var b json.RawMessage
				_ = json.NewDecoder(resp.Body).Decode(&b)
				resp.Body.Close()
				tested++

				want, why := expect(rt.Guard, a, own, userName)
				who := a.name
				if who == "" {
					who = "anonymous"
				}
				label := fmt.Sprintf("%s %s (%s) as %s", method, path, rt.Guard, who)
				if want == http.StatusOK {
					if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
						t.Errorf("%s: %d %s, want it let through (%s)", label, resp.StatusCode, b, why)
					}
					// A replaced token of the sender's own: use the new one.
					if strings.HasSuffix(rt.Path, "/token") && resp.StatusCode == http.StatusOK && userName == a.name {
						var ut apitype.UserToken
						if err := json.Unmarshal(b, &ut); err != nil || ut.Token == "" {
							t.Fatalf("%s: %s", label, b)
						}
						a.token = ut.Token
					}
					continue
				}
				if resp.StatusCode != want {
					t.Errorf("%s: %d %s, want %d (%s)", label, resp.StatusCode, b, want, why)
					continue
				}
				e := errorOf(t, b)
				switch want {
				case http.StatusUnauthorized:
					if e.Code != apitype.CodeUnauthorized || !strings.Contains(e.Message, why) || resp.Header.Get("WWW-Authenticate") == "" {
						t.Errorf("%s: 401 %+v, want unauthorized saying %q, with WWW-Authenticate", label, e, why)
					}
				case http.StatusForbidden:
					if e.Code != apitype.CodeForbidden || !strings.Contains(e.Message, a.name) || !strings.Contains(e.Message, why) {
						t.Errorf("%s: 403 %q, want forbidden naming %s and saying %q", label, e.Message, a.name, why)
					}
				}
			}
		}
	}
	for key := range rolePolicy {
		if !seen[key] {
			t.Errorf("rolePolicy names %s, which the route table does not have (or does not guard as a change)", key)
		}
	}
	if tested < 60 {
		t.Errorf("the matrix sent %d requests: the route table has fewer changing routes than expected", tested)
	}
}

// rolePolicy is who may use each changing route, by the guard kind that
// says it (see expect): mutating for members and admins, launching for
// viewers too, own-launch for members and admins and the viewer who
// started the launch, owned for the app's owner and admins, admin for admins,
// self for the account itself and admins, websocket for any user,
// service-token for the service token and admin accounts (not the daemon
// token).
var rolePolicy = map[string]string{
	"POST /api/v1/repositories":                         "mutating",
	"PATCH /api/v1/repositories/{slug}":                 "owned",
	"DELETE /api/v1/repositories/{slug}":                "owned",
	"POST /api/v1/repositories/{slug}/refresh":          "owned",
	"POST /api/v1/repositories/{slug}/builds":           "owned",
	"POST /api/v1/builds/{id}/cancel":                   "owned",
	"POST /api/v1/repositories/{slug}/launches":         "launching",
	"DELETE /api/v1/launches/{id}":                      "own-launch",
	"POST /api/v1/repositories/{slug}/thumbnail":        "owned",
	"DELETE /api/v1/repositories/{slug}/volume":         "owned",
	"PATCH /api/v1/repositories/{slug}/env":             "owned",
	"PUT /api/v1/repositories/{slug}/secrets/{name}":    "owned",
	"DELETE /api/v1/repositories/{slug}/secrets/{name}": "owned",
	"POST /api/v1/repositories/{slug}/star":             "mutating",
	"DELETE /api/v1/repositories/{slug}/star":           "mutating",
	"POST /api/v1/repositories/{slug}/comments":         "mutating",
	"DELETE /api/v1/comments/{id}":                      "mutating", // and its author or an admin: community_test.go
	"POST /api/v1/users":                                "admin",
	"DELETE /api/v1/users/{name}":                       "admin",
	"POST /api/v1/users/{name}/token":                   "self",
	"GET /api/v1/events":                                "websocket",
	"POST /api/v1/services":                             "service-token",
	"PATCH /api/v1/services/{slug}":                     "service-token",
	"DELETE /api/v1/services/{slug}":                    "service-token",
	"POST /api/v1/services/import":                      "service-token",
	"ANY /api/":                                         "by-method",
	"ANY /":                                             "by-method",
}

// expect is what the roles say of a sender on a route of guard kind: 200
// for "let through", or the refusal's status, with the words its message
// must contain.
func expect(kind string, a *matrixActor, own bool, userName string) (int, string) {
	admin := a.role == catalog.RoleAdmin
	if kind == "service-token" {
		switch {
		case a.name == "":
			return http.StatusUnauthorized, "needs the service token"
		case a.token == rolesDaemonToken:
			return http.StatusUnauthorized, "the service token is wrong"
		case admin:
			return http.StatusOK, "admins change the service registry"
		}
		return http.StatusForbidden, "changed by admins"
	}
	if a.name == "" {
		return http.StatusUnauthorized, "needs a token"
	}
	switch kind {
	case "launching", "websocket":
		return http.StatusOK, "viewers launch and watch"
	case "own-launch":
		if a.role != catalog.RoleViewer || own {
			return http.StatusOK, "members and admins stop any launch, viewers their own"
		}
		return http.StatusForbidden, "may stop only the launches it started; launch"
	case "mutating", "by-method":
		if a.role == catalog.RoleViewer {
			return http.StatusForbidden, "needs a member or an admin"
		}
		return http.StatusOK, "members change the catalog"
	case "owned":
		switch {
		case admin:
			return http.StatusOK, "admins change any app"
		case a.role == catalog.RoleViewer:
			return http.StatusForbidden, "needs a member or an admin"
		case own:
			return http.StatusOK, "members change the apps they own"
		}
		return http.StatusForbidden, "owned by olga"
	case "admin":
		if admin {
			return http.StatusOK, "admins manage accounts"
		}
		return http.StatusForbidden, "only admins"
	case "self":
		if admin || userName == a.name {
			return http.StatusOK, "anyone replaces their own token"
		}
		return http.StatusForbidden, "only its own token"
	}
	panic("unknown kind " + kind)
}
