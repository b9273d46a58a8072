package runner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/volume"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
)

// Storage sizes. An app may declare the size its data needs (tags.yaml
// storage: {path: /data, size: 1g}). The engine's local volume driver on
// overlay2 and ext4 cannot cap a volume, so the size is kept at the
// boundaries appstored controls:
//
//   - appstore volume ls and appstore show print the space used next to the
//     size;
//   - while a launch runs, its volume is measured every
//     Config.StorageCheckInterval; passing the size writes
//     launch.storage_over (once per launch, and again only after it went
//     back under) and a warning in the log. The launch keeps running: its
//     app is not cut off in the middle of a write;
//   - a new launch or a wake of an app whose volume is over its size is
//     refused (409, exit 5) with what to do: delete the data (appstore
//     volume rm) or declare a larger size and refresh the app.
//
// The size counts the bytes of the volume's files, as docker system df
// does. It is measured by a bounded walk of the volume's directory when
// the engine's files are on this host, else from the engine's disk usage
// data.

// Bounds of one walk of a volume's directory.
const (
	maxWalkEntries = 200_000
	maxWalkTime    = 2 * time.Second
)

// storageState is what the storage check remembers.
type storageState struct {
	mu   sync.Mutex
	last time.Time
	// running is set while a check runs (off the sweep: a walk may take
	// seconds).
	running bool
	// warned are the launches warned of being over their size.
	warned map[int64]bool
}

// volumeUsage measures the bytes the files of volume name hold; limit > 0
// lets a walk stop as soon as the volume is known to hold more. It returns
// -1 when it cannot tell.
func (r *Runner) volumeUsage(ctx context.Context, name, mountpoint string, limit int64) int64 {
	if mountpoint != "" {
		if fi, err := os.Lstat(mountpoint); err == nil && fi.IsDir() {
			n, complete, err := walkSize(ctx, mountpoint, limit, maxWalkEntries, time.Now().Add(maxWalkTime))
			switch {
			case err != nil:
				r.logger.Debug("measure a data volume", "volume", name, "err", err)
			case complete || limit > 0 && n > limit:
				return n
			}
		}
	}
	sizes, err := r.engineVolumeSizes(ctx)
	if err != nil {
		r.logger.Debug("volume sizes", "err", err)
		return -1
	}
	if n, ok := sizes[name]; ok && n >= 0 {
		return n
	}
	return -1
}

// volumeUsages measures the volumes of vols (see volumeUsage), asking
// the engine at most once; a volume it cannot tell is missing.
func (r *Runner) volumeUsages(ctx context.Context, vols []*volume.Volume) map[string]int64 {
	out := map[string]int64{}
	var engine map[string]int64
	asked := false
	for _, v := range vols {
		if v == nil {
			continue
		}
		if v.Mountpoint != "" {
			if fi, err := os.Lstat(v.Mountpoint); err == nil && fi.IsDir() {
				n, complete, err := walkSize(ctx, v.Mountpoint, 0, maxWalkEntries, time.Now().Add(maxWalkTime))
				if err == nil && complete {
					out[v.Name] = n
					continue
				}
			}
		}
		if !asked {
			asked = true
			var err error
			if engine, err = r.engineVolumeSizes(ctx); err != nil {
				r.logger.Debug("volume sizes", "err", err)
			}
		}
		if n, ok := engine[v.Name]; ok && n >= 0 {
			out[v.Name] = n
		}
	}
	return out
}

// engineVolumeSizes are the sizes of the engine's volumes, from its disk
// usage data (docker system df -v).
func (r *Runner) engineVolumeSizes(ctx context.Context) (map[string]int64, error) {
	du, err := r.engineDiskUsage(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, v := range du.Volumes {
		if v != nil && v.UsageData != nil {
			out[v.Name] = v.UsageData.Size
		}
	}
	return out, nil
}

// walkSize adds up the sizes of the files under root (directories not
// counted, a file with several links once), without following symbolic
// links. It stops after maxEntries entries or at deadline (complete
// false), and as soon as the sum passes limit when limit > 0.
func walkSize(ctx context.Context, root string, limit int64, maxEntries int, deadline time.Time) (int64, bool, error) {
	var total int64
	entries := 0
	seen := map[[2]uint64]bool{}
	errStop := errors.New("stop")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return err
			}
			return nil // gone meanwhile, or unreadable: skip it
		}
		entries++
		if entries > maxEntries || entries%1024 == 0 && (time.Now().After(deadline) || ctx.Err() != nil) {
			return errStop
		}
		if d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			k := [2]uint64{uint64(st.Dev), uint64(st.Ino)}
			if seen[k] {
				return nil
			}
			seen[k] = true
		}
		total += fi.Size()
		if limit > 0 && total > limit {
			return errStop
		}
		return nil
	})
	if errors.Is(err, errStop) {
		return total, false, nil
	}
	if err != nil {
		return total, false, err
	}
	return total, true, nil
}

// storageOverMessage says what an app over its storage size leads to and
// what to do.
func storageOverMessage(slug string, used, size int64) string {
	return fmt.Sprintf("the data volume of %s holds %s, over the %s its tags.yaml declares (storage size): "+
		"delete its data with `appstore volume rm %s` (stop the app first; everything in it is lost), "+
		"or raise size under storage: in its tags.yaml and run `appstore refresh %s`",
		slug, catalog.FormatSize(used), catalog.FormatSize(size), slug, slug)
}

// refuseOverSize refuses a launch of an app whose volume holds more than
// its declared size. A volume that cannot be measured does not stop the
// launch.
func (r *Runner) refuseOverSize(ctx context.Context, t *store.LaunchTarget, vol *volumeMount) error {
	if vol == nil || t.Storage == nil || t.Storage.SizeBytes <= 0 {
		return nil
	}
	used := r.volumeUsage(ctx, vol.Name, vol.Mountpoint, t.Storage.SizeBytes)
	if used <= t.Storage.SizeBytes {
		return nil
	}
	r.logger.Warn("launch refused: data volume over its size", "slug", t.Slug, "volume", vol.Name, "used", used, "size", t.Storage.SizeBytes)
	return &catalog.ConflictError{Slug: t.Slug, Message: "cannot start " + t.Slug + ": " + storageOverMessage(t.Slug, used, t.Storage.SizeBytes)}
}

// checkStorage starts, every StorageCheckInterval, a measure of the
// volumes of the apps this runner runs that declare a size, in the
// background: a walk must not hold up the sweep's stops.
func (r *Runner) checkStorage(context.Context) {
	r.storage.mu.Lock()
	due := !r.storage.running && time.Since(r.storage.last) >= r.cfg.StorageCheckInterval
	if due {
		r.storage.last, r.storage.running = time.Now(), true
	}
	r.storage.mu.Unlock()
	if !due {
		return
	}
	r.goWork(func(ctx context.Context) {
		defer func() {
			r.storage.mu.Lock()
			r.storage.running = false
			r.storage.mu.Unlock()
		}()
		r.measureRunning(ctx)
	})
}

// measureRunning measures the volumes of the running apps that declare a
// size and warns of each launch whose volume passed it
// (launch.storage_over).
func (r *Runner) measureRunning(ctx context.Context) {
	warm := false
	active, err := r.st.ListLaunches(ctx, store.LaunchFilter{Runner: r.id, Active: true, Warm: &warm, Limit: 1000})
	if err != nil {
		r.logger.Debug("storage check: list launches", "err", err)
		return
	}
	bySlug := map[string][]catalog.Launch{}
	var slugs []string
	for _, l := range active {
		if l.Status != catalog.LaunchRunning {
			continue
		}
		if _, ok := bySlug[l.Repository]; !ok {
			slugs = append(slugs, l.Repository)
		}
		bySlug[l.Repository] = append(bySlug[l.Repository], l)
	}
	still := map[int64]bool{}
	if len(slugs) > 0 {
		r.checkVolumes(ctx, slugs, bySlug, still)
	}
	r.storage.mu.Lock()
	for id := range r.storage.warned {
		if !still[id] {
			delete(r.storage.warned, id)
		}
	}
	r.storage.mu.Unlock()
}

// checkVolumes measures the volumes of slugs; still gets the launches
// that are over their size.
func (r *Runner) checkVolumes(ctx context.Context, slugs []string, bySlug map[string][]catalog.Launch, still map[int64]bool) {
	uses, err := r.st.AppUses(ctx, slugs...)
	if err != nil {
		r.logger.Debug("storage check: app uses", "err", err)
		return
	}
	cid, err := r.catalogID(ctx)
	if err != nil {
		return
	}
	for _, slug := range slugs {
		size := uses[slug].StorageSize
		if size <= 0 {
			continue
		}
		name := VolumeName(cid, slug)
		v, err := r.docker.VolumeInspect(ctx, name)
		if err != nil {
			continue
		}
		used := r.volumeUsage(ctx, name, v.Mountpoint, size)
		if used <= size {
			continue
		}
		for _, l := range bySlug[slug] {
			still[l.ID] = true
			r.storage.mu.Lock()
			if r.storage.warned == nil {
				r.storage.warned = map[int64]bool{}
			}
			warned := r.storage.warned[l.ID]
			r.storage.warned[l.ID] = true
			r.storage.mu.Unlock()
			if warned {
				continue
			}
			msg := storageOverMessage(slug, used, size) + "; it keeps running, but its next launch or wake is refused until then"
			r.logger.Warn("data volume over its size", "slug", slug, "launch", l.ID, "volume", name, "used", used, "size", size)
			if err := r.st.StorageOver(ctx, &l, used, size, msg); err != nil {
				r.logger.Warn("storage check: record", "launch", l.ID, "err", err)
				r.storage.mu.Lock()
				delete(r.storage.warned, l.ID)
				r.storage.mu.Unlock()
			}
		}
	}
}
