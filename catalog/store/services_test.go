package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
)

// serviceEvents returns the service.* events after since.
func serviceEvents(t *testing.T, st *store.Store, since int64) []catalog.Event {
	t.Helper()
	evs, err := st.Events(context.Background(), store.EventFilter{Since: since, Topics: []string{"service"}})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func lastEventID(t *testing.T, st *store.Store) int64 {
	t.Helper()
	id, err := st.LastEventID(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

type eventData struct {
	catalog.Service
	Changed        []string              `json:"changed"`
	PreviousStatus catalog.ServiceStatus `json:"previous_status"`
}

func decodeEvent(t *testing.T, e catalog.Event) eventData {
	t.Helper()
	var d eventData
	if err := json.Unmarshal(e.Data, &d); err != nil {
		t.Fatalf("event %s data %s: %v", e.Type, e.Data, err)
	}
	return d
}

func TestServiceCreateUpdateDelete(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	since := lastEventID(t, st)

	svc, created, err := st.CreateService(ctx, store.ServiceSpec{Slug: "llm", Name: "LLM gateway", BaseURL: "http://10.0.0.5:8080",
		Capabilities: []string{"chat"}, Metadata: json.RawMessage(`{"owner":"ml","n":1}`), HealthInterval: "10s"})
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	if svc.Status != catalog.ServiceUnknown || svc.Source != store.ServiceSourceAPI || svc.HealthURL != "http://10.0.0.5:8080/healthz" ||
		svc.HealthIntervalMS == nil || *svc.HealthIntervalMS != 10000 {
		t.Errorf("created %+v", svc)
	}

	// The same declaration again (metadata in another key order and number
	// spelling): no change, no event. A different one: a conflict.
	again, created, err := st.CreateService(ctx, store.ServiceSpec{Slug: "llm", Name: "LLM gateway", BaseURL: "http://10.0.0.5:8080/",
		Capabilities: []string{"chat"}, Metadata: json.RawMessage(`{"n":1.0e0,"owner":"ml"}`), HealthInterval: "10s"})
	if err != nil || created || again.ID != svc.ID {
		t.Errorf("re-register: %+v %v %v", again, created, err)
	}
	_, _, err = st.CreateService(ctx, store.ServiceSpec{Slug: "llm", BaseURL: "http://10.0.0.6:8080"})
	var conflict *catalog.ConflictError
	if !errors.As(err, &conflict) || conflict.Slug != "llm" || !strings.Contains(err.Error(), "base_url") {
		t.Errorf("conflicting register: %v", err)
	}

	// PATCH: nothing changed → nothing written.
	name := "LLM gateway"
	_, changed, err := st.UpdateService(ctx, "llm", store.ServicePatch{Name: &name})
	if err != nil || changed != nil {
		t.Errorf("no-op patch: %v %v", changed, err)
	}
	// The health URL followed the base URL (it was the default).
	base := "http://10.0.0.7:9000"
	upd, changed, err := st.UpdateService(ctx, "llm", store.ServicePatch{BaseURL: &base})
	if err != nil || !slices.Equal(changed, []string{"base_url", "health_url"}) || upd.HealthURL != base+"/healthz" {
		t.Errorf("patch base: %+v %v %v", upd, changed, err)
	}
	none := ""
	upd, changed, err = st.UpdateService(ctx, "llm", store.ServicePatch{HealthInterval: &none, Metadata: json.RawMessage(`{}`)})
	if err != nil || !slices.Equal(changed, []string{"metadata", "health_interval"}) || upd.HealthIntervalMS != nil || upd.Metadata != nil {
		t.Errorf("patch interval: %+v %v %v", upd, changed, err)
	}
	bad := "ftp://x"
	if _, _, err := st.UpdateService(ctx, "llm", store.ServicePatch{HealthURL: &bad}); !errors.Is(err, catalog.ErrInvalid) {
		t.Errorf("bad patch: %v", err)
	}
	if _, _, err := st.UpdateService(ctx, "nope", store.ServicePatch{Name: &name}); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("patch missing: %v", err)
	}

	list, err := st.Services(ctx, store.ServiceFilter{Capability: "CHAT"})
	if err != nil || len(list) != 1 || list[0].Slug != "llm" {
		t.Errorf("list by capability: %v %v", list, err)
	}
	if list, _ := st.Services(ctx, store.ServiceFilter{Status: catalog.ServiceHealthy}); len(list) != 0 {
		t.Errorf("list healthy: %v", list)
	}
	if _, err := st.Services(ctx, store.ServiceFilter{Status: "up"}); !errors.Is(err, catalog.ErrInvalid) {
		t.Errorf("bad status filter: %v", err)
	}

	if err := st.DeleteService(ctx, "llm"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Service(ctx, "llm"); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
	if err := st.DeleteService(ctx, "llm"); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}

	var types []string
	for _, e := range serviceEvents(t, st, since) {
		if e.Subject != "llm" {
			t.Errorf("event subject %q", e.Subject)
		}
		types = append(types, e.Type)
	}
	want := []string{"service.created", "service.updated", "service.updated", "service.deleted"}
	if !slices.Equal(types, want) {
		t.Errorf("events %v, want %v", types, want)
	}
}

func TestImportServices(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	// An API-registered service that the manifest takes over, and one it
	// does not mention (never pruned).
	if _, _, err := st.CreateService(ctx, store.ServiceSpec{Slug: "search", BaseURL: "http://search:9200"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.CreateService(ctx, store.ServiceSpec{Slug: "manual", BaseURL: "http://manual"}); err != nil {
		t.Fatal(err)
	}
	manifest := []store.ServiceSpec{
		{Slug: "llm", BaseURL: "http://llm:8080", Capabilities: []string{"chat"}, Metadata: json.RawMessage(`{"b":2,"a":1}`)},
		{Slug: "search", BaseURL: "http://search:9200", Kind: "search"},
		{Slug: "vectors", BaseURL: "http://vectors", HealthURL: "http://vectors/ready", HealthInterval: "1m"},
	}
	since := lastEventID(t, st)
	res, err := st.ImportServices(ctx, manifest, store.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Created != 2 || res.Updated != 1 || res.Unchanged != 0 || res.Deleted != 0 {
		t.Errorf("first import: %+v", res)
	}
	if e := res.Entries[1]; e.Action != store.ImportUpdated || !slices.Equal(e.Changed, []string{"kind", "source"}) {
		t.Errorf("takeover: %+v", e)
	}
	if n := len(serviceEvents(t, st, since)); n != 3 {
		t.Errorf("%d events after the first import, want 3", n)
	}

	// The same manifest again: all unchanged, no event.
	since = lastEventID(t, st)
	res, err = st.ImportServices(ctx, manifest, store.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Created != 0 || res.Updated != 0 || res.Unchanged != 3 {
		t.Errorf("second import: %+v", res)
	}
	if evs := serviceEvents(t, st, since); len(evs) != 0 {
		t.Errorf("second import wrote events: %v", evs)
	}

	// One bad entry among good ones (and a changed good one): nothing is
	// applied, every bad entry is named.
	broken := slices.Clone(manifest)
	broken[0].Name = "Renamed"
	broken = append(broken,
		store.ServiceSpec{Slug: "bad", BaseURL: "ftp://x"},
		store.ServiceSpec{Slug: "llm", BaseURL: "http://other"},
		store.ServiceSpec{Slug: "new", BaseURL: "http://new"},
	)
	_, err = st.ImportServices(ctx, broken, store.ImportOptions{Prune: true})
	var me *catalog.ManifestError
	if !errors.As(err, &me) || !errors.Is(err, catalog.ErrInvalid) || len(me.Entries) != 2 {
		t.Fatalf("broken manifest: %v", err)
	}
	if e := me.Entries[0]; e.Index != 3 || e.Slug != "bad" || e.Field != "base_url" {
		t.Errorf("first entry error %+v", e)
	}
	if e := me.Entries[1]; e.Index != 4 || e.Field != "slug" || !strings.Contains(e.Message, "services[0]") {
		t.Errorf("duplicate entry error %+v", e)
	}
	if _, err := st.Service(ctx, "new"); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("a refused manifest created a service: %v", err)
	}
	if llm, _ := st.Service(ctx, "llm"); llm.Name != "llm" {
		t.Errorf("a refused manifest renamed llm to %q", llm.Name)
	}
	if evs := serviceEvents(t, st, since); len(evs) != 0 {
		t.Errorf("a refused manifest wrote events: %v", evs)
	}

	// Prune: manifest services absent from the manifest go; API ones stay.
	res, err = st.ImportServices(ctx, manifest[:1], store.ImportOptions{Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Unchanged != 1 || res.Deleted != 2 || res.Entries[1].Slug != "search" || res.Entries[2].Slug != "vectors" {
		t.Errorf("prune: %+v", res)
	}
	all, _ := st.Services(ctx, store.ServiceFilter{})
	var slugs []string
	for _, s := range all {
		slugs = append(slugs, s.Slug)
	}
	if !slices.Equal(slugs, []string{"llm", "manual"}) {
		t.Errorf("after prune: %v", slugs)
	}
	var types []string
	for _, e := range serviceEvents(t, st, since) {
		types = append(types, e.Type+" "+e.Subject)
	}
	if !slices.Equal(types, []string{"service.deleted search", "service.deleted vectors"}) {
		t.Errorf("prune events: %v", types)
	}
}

func TestServiceChecks(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	if _, ok, err := st.NextServiceCheck(ctx); ok || err != nil {
		t.Errorf("next check without services: %v %v", ok, err)
	}
	for _, slug := range []string{"a", "b", "c"} {
		if _, _, err := st.CreateService(ctx, store.ServiceSpec{Slug: slug, BaseURL: "http://" + slug}); err != nil {
			t.Fatal(err)
		}
	}
	if in, ok, err := st.NextServiceCheck(ctx); !ok || in != 0 || err != nil {
		t.Errorf("new services are due at once: %s %v %v", in, ok, err)
	}
	// Concurrent claimers split the due services: none is claimed twice.
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := st.ClaimDueServices(ctx, 2, time.Minute)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, g := range got {
				seen[g.Slug]++
			}
		}()
	}
	wg.Wait()
	if len(seen) != 3 || seen["a"] != 1 || seen["b"] != 1 || seen["c"] != 1 {
		t.Errorf("claims %v, want each service once", seen)
	}
	if again, _ := st.ClaimDueServices(ctx, 10, time.Minute); len(again) != 0 {
		t.Errorf("claimed under lease: %v", again)
	}
	if in, ok, err := st.NextServiceCheck(ctx); err != nil || !ok || in < 50*time.Second || in > time.Minute {
		t.Errorf("next check in %s (%v, %v), want about the lease of a minute", in, ok, err)
	}

	a, _ := st.Service(ctx, "a")
	since := lastEventID(t, st)
	record := func(healthy bool, msg string) []string {
		t.Helper()
		_, changed, err := st.RecordServiceCheck(ctx, store.ServiceCheck{ID: a.ID, HealthURL: a.HealthURL, Healthy: healthy,
			Error: msg, Latency: 1500 * time.Microsecond, NextIn: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return changed
	}
	steps := []struct {
		healthy bool
		err     string
		want    []string
	}{
		{true, "", []string{"status"}},
		{true, "", nil},
		{false, "HTTP 500 Internal Server Error", []string{"status", "last_error"}},
		{false, "HTTP 500 Internal Server Error", nil},
		{false, "timed out after 1s", []string{"last_error"}},
		{true, "", []string{"status", "last_error"}},
		{true, "", nil},
	}
	for i, s := range steps {
		if got := record(s.healthy, s.err); !slices.Equal(got, s.want) {
			t.Errorf("step %d: changed %v, want %v", i, got, s.want)
		}
		if i == 4 {
			if got, _ := st.Service(ctx, "a"); got.ConsecutiveFailures != 3 || got.NextCheckAt == nil || time.Until(*got.NextCheckAt) < 50*time.Minute {
				t.Errorf("after three failures: %d failures, next check %v", got.ConsecutiveFailures, got.NextCheckAt)
			}
		}
	}
	evs := serviceEvents(t, st, since)
	if len(evs) != 4 {
		t.Fatalf("%d events, want 4 (one per change): %v", len(evs), evs)
	}
	if d := decodeEvent(t, evs[1]); d.Status != catalog.ServiceUnhealthy || d.PreviousStatus != catalog.ServiceHealthy ||
		d.LastError != "HTTP 500 Internal Server Error" || d.Slug != "a" {
		t.Errorf("unhealthy event %+v", d)
	}
	if d := decodeEvent(t, evs[2]); d.PreviousStatus != "" || d.LastError != "timed out after 1s" {
		t.Errorf("error change event %+v", d)
	}
	got, _ := st.Service(ctx, "a")
	if got.Status != catalog.ServiceHealthy || got.LastLatencyMS == nil || *got.LastLatencyMS != 1.5 || got.LastCheckedAt == nil || got.ConsecutiveFailures != 0 {
		t.Errorf("after checks %+v", got)
	}

	// A result for a URL the service no longer has is dropped; so is one
	// for a deleted service.
	newURL := "http://a2/healthz"
	if _, _, err := st.UpdateService(ctx, "a", store.ServicePatch{HealthURL: &newURL}); err != nil {
		t.Fatal(err)
	}
	if svc, changed, err := st.RecordServiceCheck(ctx, store.ServiceCheck{ID: a.ID, HealthURL: a.HealthURL, Healthy: false, Error: "x", NextIn: time.Hour}); svc != nil || changed != nil || err != nil {
		t.Errorf("stale result recorded: %v %v %v", svc, changed, err)
	}
	if got, _ := st.Service(ctx, "a"); got.Status != catalog.ServiceUnknown || got.LastCheckedAt != nil {
		t.Errorf("new URL keeps old health: %+v", got)
	}
	// …and the service is due at once.
	claimed, _ := st.ClaimDueServices(ctx, 10, time.Minute)
	if len(claimed) != 1 || claimed[0].Slug != "a" || claimed[0].HealthURL != newURL || claimed[0].Failures != 0 {
		t.Errorf("claim after URL change: %+v", claimed)
	}
	if err := st.DeleteService(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if svc, _, err := st.RecordServiceCheck(ctx, store.ServiceCheck{ID: a.ID, HealthURL: newURL, Healthy: true, NextIn: time.Hour}); svc != nil || err != nil {
		t.Errorf("deleted service recorded: %v %v", svc, err)
	}
}
