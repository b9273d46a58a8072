package cli_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/catalog"
)

// TestShowPrintsTheSpaceTheVolumeTakes: show puts the space the app's data
// volume takes next to its declared size, and says what an app over it
// leads to. (The daemon's side, measuring and refusing, is
// daemon/runner's TestStorageOverItsSize.)
func TestShowPrintsTheSpaceTheVolumeTakes(t *testing.T) {
	used := int64(3 << 20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v1/repositories/notes":
			json.NewEncoder(w).Encode(apitype.Repository{Slug: "notes", Name: "notes", IngestStatus: catalog.IngestReady,
				Metadata: json.RawMessage(`{"storage": {"path": "/data", "size_bytes": 2097152}}`)})
		case "/api/v1/volumes":
			if r.URL.Query().Get("repository") != "notes" {
				t.Errorf("volumes asked for %q", r.URL.RawQuery)
			}
			json.NewEncoder(w).Encode(apitype.VolumeList{Volumes: []apitype.Volume{
				{Name: "appstore-x-notes-data", Repository: "notes", Path: "/data", SizeLimitBytes: 2 << 20, UsedBytes: used}}})
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error": {"code": "not_found", "message": "not here"}}`))
		}
	}))
	defer srv.Close()

	r := cmd(t, srv.URL, false, "show", "notes")
	if r.code != 0 || !inOrder(r.stdout, `^storage:\t/data$`, `^storage used:\t3145728\t2097152$`) {
		t.Errorf("show in a pipe: %+v", r)
	}
	r = cmd(t, srv.URL, true, "show", "notes")
	if !inOrder(r.stdout, `^storage used: +3 MiB of 2 MiB \(over its size: its next launch or wake is refused; free space with .appstore volume rm notes., or raise size under storage: in its tags.yaml\)$`) {
		t.Errorf("show on a terminal:\n%s", r.stdout)
	}
	used = 1 << 20
	r = cmd(t, srv.URL, true, "show", "notes")
	if !inOrder(r.stdout, `^storage used: +1 MiB of 2 MiB$`) {
		t.Errorf("show on a terminal, under the size:\n%s", r.stdout)
	}
}
