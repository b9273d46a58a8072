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

// TestCommentRemovalByRole: a comment goes away at the request of its
// author or an admin; anyone else is refused with 403 saying whose it is,
// a viewer by the route's guard, an anonymous client with 401.
func TestCommentRemovalByRole(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	srv := httptest.NewServer((&api.Server{Store: st, Guard: &api.Guard{Loopback: true, Token: rolesDaemonToken}}).Handler())
	t.Cleanup(srv.Close)
	tokens := map[string]string{"admin": rolesDaemonToken}
	for name, role := range map[string]catalog.Role{"ann": catalog.RoleMember, "bob": catalog.RoleMember, "vic": catalog.RoleViewer, "ada": catalog.RoleAdmin} {
		token, hash := catalog.NewUserToken()
		if _, err := st.CreateUser(ctx, store.NewUser{Name: name, Role: role, TokenHash: hash}); err != nil {
			t.Fatal(err)
		}
		tokens[name] = token
	}
	if _, err := st.CreateRepository(ctx, store.NewRepository{GitURL: "https://example.com/dash.git", GitURLKey: "example.com/dash", Name: "dash"}); err != nil {
		t.Fatal(err)
	}
	do := func(who, method, path, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if who != "" {
			req.Header.Set("Authorization", "Bearer "+tokens[who])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b json.RawMessage
		_ = json.NewDecoder(resp.Body).Decode(&b)
		return resp.StatusCode, b
	}
	comment := func() int64 {
		code, b := do("ann", "POST", "/api/v1/repositories/dash/comments", `{"body":"mine"}`)
		var c apitype.Comment
		if code != http.StatusCreated || json.Unmarshal(b, &c) != nil || c.Author != "ann" {
			t.Fatalf("ann comments: %d %s", code, b)
		}
		return c.ID
	}
	id := comment()
	for _, c := range []struct {
		who  string
		want int
		says string
	}{
		{"", http.StatusUnauthorized, "token"},
		{"vic", http.StatusForbidden, "member"},
		{"bob", http.StatusForbidden, "only its author or an admin"},
	} {
		code, b := do(c.who, "DELETE", fmt.Sprintf("/api/v1/comments/%d", id), "")
		if code != c.want || !strings.Contains(errorOf(t, b).Message, c.says) {
			t.Errorf("%q removes ann's comment: %d %s, want %d saying %q", c.who, code, b, c.want, c.says)
		}
	}
	for _, who := range []string{"ann", "ada", "admin"} {
		if code, b := do(who, "DELETE", fmt.Sprintf("/api/v1/comments/%d", id), ""); code != http.StatusNoContent {
			t.Errorf("%s removes ann's comment: %d %s", who, code, b)
		}
		id = comment()
	}
	if code, b := do("ann", "DELETE", "/api/v1/comments/x", ""); code != http.StatusBadRequest {
		t.Errorf("a bad id: %d %s", code, b)
	}

	// ann's account goes and a new ann comes: the comment stays the old
	// ann's, shown as a removed user's, and the new ann may not remove it.
	if code, b := do("admin", "DELETE", "/api/v1/users/ann", ""); code != http.StatusOK {
		t.Fatalf("remove ann: %d %s", code, b)
	}
	token, hash := catalog.NewUserToken()
	if _, err := st.CreateUser(ctx, store.NewUser{Name: "ann", Role: catalog.RoleMember, TokenHash: hash}); err != nil {
		t.Fatal(err)
	}
	tokens["ann"] = token
	code, b := do("", "GET", "/api/v1/repositories/dash/comments", "")
	var list apitype.CommentList
	if code != http.StatusOK || json.Unmarshal(b, &list) != nil || len(list.Comments) != 1 || list.Comments[0].ID != id ||
		list.Comments[0].Author != "ann" || !list.Comments[0].AuthorRemoved || !strings.Contains(string(b), `"author_removed":true`) {
		t.Fatalf("comments after ann's removal: %d %s", code, b)
	}
	if code, b := do("ann", "DELETE", fmt.Sprintf("/api/v1/comments/%d", id), ""); code != http.StatusForbidden || !strings.Contains(errorOf(t, b).Message, "ann (removed user)") {
		t.Errorf("the new ann removes the old ann's comment: %d %s, want 403 naming the removed user", code, b)
	}
	id = comment()
	if code, b := do("ann", "DELETE", fmt.Sprintf("/api/v1/comments/%d", id), ""); code != http.StatusNoContent {
		t.Errorf("the new ann removes her own comment: %d %s", code, b)
	}
	if code, b := do("ann", "POST", "/api/v1/repositories/dash/comments", `{"body":"  "}`); code != http.StatusBadRequest || errorOf(t, b).Field != "body" {
		t.Errorf("an empty comment: %d %s", code, b)
	}

	// Stars are the user's: ann's star is not bob's.
	if code, b := do("ann", "POST", "/api/v1/repositories/dash/star", ""); code != http.StatusOK || !strings.Contains(string(b), `"starred":true`) {
		t.Errorf("ann stars: %d %s", code, b)
	}
	if code, b := do("bob", "GET", "/api/v1/repositories/dash/star", ""); code != http.StatusOK || !strings.Contains(string(b), `"starred":false,"star_count":1`) {
		t.Errorf("bob reads: %d %s", code, b)
	}
	if code, b := do("vic", "POST", "/api/v1/repositories/dash/star", ""); code != http.StatusForbidden {
		t.Errorf("a viewer stars: %d %s", code, b)
	}
	if code, b := do("", "GET", "/api/v1/search?q=is:starred", ""); code != http.StatusBadRequest || !strings.Contains(errorOf(t, b).Message, "needs to know who is asking") {
		t.Errorf("is:starred without a token: %d %s", code, b)
	}
	if code, b := do("ann", "GET", "/api/v1/search?q=is:starred", ""); code != http.StatusOK || !strings.Contains(string(b), `"slug":"dash"`) {
		t.Errorf("ann's is:starred: %d %s", code, b)
	}
	// Autocomplete offers is:starred to ann, counted, from its first letter.
	for _, q := range []string{"i", "is:"} {
		if code, b := do("ann", "GET", "/api/v1/autocomplete?q="+q, ""); code != http.StatusOK || !strings.Contains(string(b), `"text":"is`) || !strings.Contains(string(b), `"count":1`) {
			t.Errorf("ann's autocomplete of %q: %d %s", q, code, b)
		}
		if code, b := do("", "GET", "/api/v1/autocomplete?q="+q, ""); code != http.StatusOK || !strings.Contains(string(b), `"suggestions":[]`) {
			t.Errorf("no one's autocomplete of %q: %d %s, want no is:", q, code, b)
		}
	}

	// Stats: every day asked for, and the bounds of days.
	if code, b := do("", "GET", "/api/v1/repositories/dash/stats?days=7", ""); code != http.StatusOK || strings.Count(string(b), `"day":`) != 7 {
		t.Errorf("stats: %d %s", code, b)
	}
	for _, q := range []string{"days=0", "days=401", "days=x"} {
		if code, b := do("", "GET", "/api/v1/repositories/dash/stats?"+q, ""); code != http.StatusBadRequest || errorOf(t, b).Field != "days" {
			t.Errorf("stats?%s: %d %s", q, code, b)
		}
	}
	if code, _ := do("", "GET", "/api/v1/repositories/nope/stats", ""); code != http.StatusNotFound {
		t.Errorf("stats of a missing app: %d", code)
	}
}
