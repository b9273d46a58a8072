package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// LabelCatalog is the image label the build worker puts on every image
// (builder.LabelCatalog; this package cannot import daemon/builder, whose own
// tests import it). TestLabelCatalogMatchesTestenv in daemon/builder keeps
// the two equal.
const LabelCatalog = "appstore.catalog"

// RemoveCatalogImages removes, when the test ends, the images that the
// catalog in databaseURL had built on the shared Docker engine: without it
// every run of a test that builds leaves its images behind. The catalog's
// id is read at the end, so the database may still be empty now (an
// appstored the test starts later migrates it). Postgres calls it for
// every database it makes.
func RemoveCatalogImages(t testing.TB, databaseURL string) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := removeCatalogImages(ctx, databaseURL); err != nil {
			t.Logf("cleanup of the catalog's images: %v", err)
		}
	})
}

func removeCatalogImages(ctx context.Context, databaseURL string) error {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return err
	}
	var id string
	err = conn.QueryRow(ctx, `SELECT id FROM catalog_identity`).Scan(&id)
	conn.Close(ctx)
	if err != nil {
		return nil // never migrated, or no identity yet: nothing was built
	}
	client, base, err := dockerHTTP()
	if err != nil {
		return err
	}
	filters, _ := json.Marshal(map[string][]string{"label": {LabelCatalog + "=" + id}})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/images/json?filters="+url.QueryEscape(string(filters)), nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var images []struct {
		ID string `json:"Id"`
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("list images: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&images); err != nil {
		return fmt.Errorf("list images: %w", err)
	}
	for _, img := range images {
		// Parents stay (noprune): they are cache layers that builds of
		// other tests running now may be reusing.
		req, err := http.NewRequestWithContext(ctx, http.MethodDelete, base+"/images/"+url.PathEscape(img.ID)+"?force=1&noprune=1", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
	}
	return nil
}
