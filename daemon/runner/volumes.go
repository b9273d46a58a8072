package runner

import (
	"archive/tar"
	"bytes"
	"cmp"
	"context"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/volume"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
)

// Persistent storage. An app that declares a data directory (tags.yaml
// storage: /data) gets one Docker volume of its own, named after the
// catalogue and its slug and labelled with both and with its repository's
// Git URL: every container of the app (launches, warm ones, redeploys)
// mounts it there, and nothing else does. The volume outlives containers
// (sleep and wake, stop and launch, rebuilds, a daemon killed and
// restarted); only `appstore volume rm` and `appstore rm --purge` delete
// it. A volume left by a removed app is given back to the same repository
// added again, and refused to another repository that takes its slug.

// Labels of the volumes the runner creates (besides LabelManaged and
// LabelRepository).
const (
	// LabelCatalog is the catalogue's identity (store.CatalogID), as on
	// the images the builder makes.
	LabelCatalog = "appstore.catalog"
	// LabelSource is the normalised Git URL of the volume's repository.
	LabelSource = "appstore.source"
	// LabelStoragePath and LabelStorageSize are the declaration the
	// volume was made for (informational).
	LabelStoragePath = "appstore.storage.path"
	LabelStorageSize = "appstore.storage.size"
)

// volumeMount is the volume a launch's container mounts.
type volumeMount struct {
	Name string
	Path string
	// Labels are the volume's: a Swarm node that has no such volume yet
	// creates it with them (swarmRuntime).
	Labels map[string]string
}

// VolumeName is the Docker volume of app slug in catalogue catalogID.
func VolumeName(catalogID, slug string) string {
	return "appstore-" + catalogID[:min(12, len(catalogID))] + "-" + slug + "-data"
}

// catalogID is the catalogue's identity, read once.
func (r *Runner) catalogID(ctx context.Context) (string, error) {
	r.mu.Lock()
	id := r.catalog
	r.mu.Unlock()
	if id != "" {
		return id, nil
	}
	id, err := r.st.CatalogID(ctx)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	r.catalog = id
	r.mu.Unlock()
	return id, nil
}

// volumeFor returns the mount of the app's volume, creating the volume the
// first time; nil when the app declares no storage. A volume of the same
// name that another repository left is refused.
func (r *Runner) volumeFor(ctx context.Context, t *store.LaunchTarget) (*volumeMount, error) {
	if t.Storage == nil || t.Storage.Path == "" {
		return nil, nil
	}
	cid, err := r.catalogID(ctx)
	if err != nil {
		return nil, err
	}
	name := VolumeName(cid, t.Slug)
	v, err := r.docker.VolumeInspect(ctx, name)
	switch {
	case errdefs.IsNotFound(err):
		v, err = r.docker.VolumeCreate(ctx, volume.CreateOptions{Name: name, Labels: map[string]string{
			LabelManaged:     "true",
			LabelCatalog:     cid,
			LabelRepository:  t.Slug,
			LabelSource:      t.GitURLKey,
			LabelStoragePath: t.Storage.Path,
			LabelStorageSize: strconv.FormatInt(t.Storage.SizeBytes, 10),
		}})
		if err != nil {
			return nil, &unavailableError{fmt.Sprintf("create the data volume of %s: %v", t.Slug, err)}
		}
		r.logger.Info("created a data volume", "slug", t.Slug, "volume", name, "path", t.Storage.Path)
	case err != nil:
		return nil, &unavailableError{fmt.Sprintf("inspect the data volume of %s: %v", t.Slug, err)}
	}
	if src := v.Labels[LabelSource]; src != t.GitURLKey {
		return nil, &catalog.ConflictError{Slug: t.Slug, Message: fmt.Sprintf(
			"the data volume %s holds the data of %s, an app removed earlier under the slug %s, not of this repository (%s): "+
				"delete it with `appstore volume rm %s` (its data is lost), or remove this app and add %s again to get it back",
			name, cmp.Or(src, "another repository"), t.Slug, t.GitURLKey, t.Slug, cmp.Or(src, "that repository"))}
	}
	return &volumeMount{Name: name, Path: t.Storage.Path, Labels: v.Labels}, nil
}

// withVolume adds the app's volume to the container's configuration.
func withVolume(host *container.HostConfig, v *volumeMount) {
	if v == nil {
		return
	}
	host.Mounts = append(host.Mounts, mount.Mount{Type: mount.TypeVolume, Source: v.Name, Target: v.Path})
}

// ownVolume makes the root of the container's volume writable by the user
// the container runs as (the image's USER), before it starts: a new
// volume's directory belongs to root with mode 0755, which an app running
// as another user could not write to, and the containers hold no
// capability to change that themselves. The engine's copy API extracts
// what it is given as root (or as the container's user, which an image
// FROM scratch cannot name), so the directory gets mode 1777 instead of an
// owner: every user of the container may create files there, and only a
// file's owner may delete or replace it (the sticky bit). Only this app's
// containers mount the volume, and the engine's volume directory is
// closed to the host's other users. Only that one directory is changed,
// never what is inside; nothing is done for root.
func (e *engine) ownVolume(ctx context.Context, cid string, v *volumeMount) error {
	if v == nil {
		return nil
	}
	ins, err := e.cli.ContainerInspect(ctx, cid)
	if err != nil {
		return fmt.Errorf("inspect container: %w", err)
	}
	user := ""
	if ins.Config != nil {
		user = ins.Config.User
	}
	if isRootUser(user) {
		return nil
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{
		Name: path.Base(v.Path) + "/", Typeflag: tar.TypeDir, Mode: 0o1777, ModTime: time.Now(),
	}); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := e.cli.CopyToContainer(ctx, cid, path.Dir(v.Path), &buf, container.CopyToContainerOptions{}); err != nil {
		return fmt.Errorf("make the data volume at %s writable by the app's user %s: %w", v.Path, user, err)
	}
	return nil
}

// isRootUser reports whether a container's user ("", "0", "root",
// "0:0"…) is root.
func isRootUser(user string) bool {
	name, _, _ := strings.Cut(strings.TrimSpace(user), ":")
	return name == "" || name == "root" || name == "0"
}

// Volume is an app's data volume, as appstore volume ls shows it.
type Volume struct {
	Name           string
	Repository     string
	Path           string
	SizeLimitBytes int64
	UsedBytes      int64 // -1: unknown
	CreatedAt      *time.Time
	LastUsedAt     *time.Time
	InUse          bool
	Orphaned       bool
}

// Volumes lists the data volumes of this catalogue's apps on the engine,
// of the app slug only when slug is not empty, by slug.
func (r *Runner) Volumes(ctx context.Context, slug string) ([]Volume, error) {
	if err := r.available(ctx); err != nil {
		return nil, err
	}
	cid, err := r.catalogID(ctx)
	if err != nil {
		return nil, err
	}
	f := filters.NewArgs(filters.Arg("label", LabelCatalog+"="+cid), filters.Arg("label", LabelManaged+"=true"))
	if slug != "" {
		f.Add("label", LabelRepository+"="+slug)
	}
	list, err := r.docker.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		return nil, &unavailableError{fmt.Sprintf("list volumes: %v", err)}
	}
	if len(list.Volumes) == 0 {
		return nil, nil
	}
	used := map[string]int64{}
	if du, err := r.volumeUsage(ctx); err == nil {
		for _, v := range du.Volumes {
			if v != nil && v.UsageData != nil {
				used[v.Name] = v.UsageData.Size
			}
		}
	} else {
		r.logger.Debug("volume sizes", "err", err)
	}
	var slugs []string
	if slug != "" {
		slugs = []string{slug}
	}
	uses, err := r.st.AppUses(ctx, slugs...)
	if err != nil {
		return nil, err
	}
	var out []Volume
	for _, v := range list.Volumes {
		if v == nil {
			continue
		}
		s := v.Labels[LabelRepository]
		size, _ := strconv.ParseInt(v.Labels[LabelStorageSize], 10, 64)
		vol := Volume{Name: v.Name, Repository: s, Path: v.Labels[LabelStoragePath], SizeLimitBytes: size, UsedBytes: -1}
		if n, ok := used[v.Name]; ok && n >= 0 {
			vol.UsedBytes = n
		}
		if t, err := time.Parse(time.RFC3339, v.CreatedAt); err == nil {
			vol.CreatedAt = &t
		}
		u, ok := uses[s]
		vol.Orphaned = !ok || u.GitURLKey != v.Labels[LabelSource]
		if !vol.Orphaned {
			vol.LastUsedAt = u.LastUsed
		}
		if users, err := r.volumeUsers(ctx, v.Name); err == nil && len(users) > 0 {
			vol.InUse = true
			now := time.Now().UTC()
			vol.LastUsedAt = &now
		}
		out = append(out, vol)
	}
	slices.SortFunc(out, func(a, b Volume) int { return cmp.Compare(a.Repository, b.Repository) })
	return out, nil
}

// volumeUsers lists the containers (running or not) that mount the volume.
func (r *Runner) volumeUsers(ctx context.Context, name string) ([]container.Summary, error) {
	return r.docker.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("volume", name))})
}

// RemoveVolume deletes the data volume of the app slug, and its data. It is
// refused while a launch of the app runs (its warm container, which serves
// nobody, is stopped first).
func (r *Runner) RemoveVolume(ctx context.Context, slug string) error {
	if err := r.available(ctx); err != nil {
		return err
	}
	cid, err := r.catalogID(ctx)
	if err != nil {
		return err
	}
	name := VolumeName(cid, slug)
	if _, err := r.docker.VolumeInspect(ctx, name); errdefs.IsNotFound(err) {
		return &catalog.NotFoundError{Kind: "volume", Key: slug}
	} else if err != nil {
		return &unavailableError{fmt.Sprintf("inspect the data volume of %s: %v", slug, err)}
	}
	active, err := r.st.ListLaunches(ctx, store.LaunchFilter{Repository: slug, Active: true, Limit: 100})
	if err != nil {
		return err
	}
	var running []string
	for _, l := range active {
		if l.Warm && l.Runner == r.id {
			if _, err := r.stop(ctx, l.ID, catalog.LaunchStopped, "its app's data volume is being removed", "volume-removed"); err != nil {
				return err
			}
			continue
		}
		running = append(running, strconv.FormatInt(l.ID, 10))
	}
	if len(running) > 0 {
		return &catalog.ConflictError{Slug: slug, Message: fmt.Sprintf(
			"the data volume of %s is in use: launch %s runs; stop it with `appstore stop %s`, then remove the volume",
			slug, strings.Join(running, ", "), slug)}
	}
	users, err := r.volumeUsers(ctx, name)
	if err != nil {
		return &unavailableError{fmt.Sprintf("list the containers of the data volume of %s: %v", slug, err)}
	}
	if len(users) > 0 {
		return &catalog.ConflictError{Slug: slug, Message: fmt.Sprintf(
			"the data volume of %s is in use by container %s; stop the app with `appstore stop %s`, then remove the volume",
			slug, strings.TrimPrefix(firstName(users[0]), "/"), slug)}
	}
	if err := r.docker.VolumeRemove(ctx, name, false); err != nil {
		if errdefs.IsNotFound(err) {
			return nil
		}
		if errdefs.IsConflict(err) {
			return &catalog.ConflictError{Slug: slug, Message: fmt.Sprintf("the data volume of %s is in use: stop the app with `appstore stop %s`, then remove the volume", slug, slug)}
		}
		return &unavailableError{fmt.Sprintf("remove the data volume of %s: %v", slug, err)}
	}
	if f, ok := r.eng.(volumeForgetter); ok {
		if err := f.forgetVolume(ctx, name); err != nil {
			r.logger.Warn("forget the node of a removed data volume", "slug", slug, "volume", name, "err", err)
		}
	}
	r.logger.Info("removed a data volume", "slug", slug, "volume", name)
	return nil
}

func firstName(c container.Summary) string {
	if len(c.Names) > 0 {
		return c.Names[0]
	}
	return c.ID
}

// diskUsageWait bounds how long volumeUsage waits for another client's disk
// usage operation on the engine to finish.
const diskUsageWait = 10 * time.Second

// volumeUsage asks the engine how much each volume holds. The engine runs
// one disk usage operation at a time and refuses the others ("a disk usage
// operation is already running": `docker system df`, another appstored, a
// concurrent volume ls): those are asked again until it is free, for up to
// diskUsageWait; after that the sizes are unknown.
func (r *Runner) volumeUsage(ctx context.Context) (types.DiskUsage, error) {
	ctx, cancel := context.WithTimeout(ctx, diskUsageWait)
	defer cancel()
	for {
		du, err := r.docker.DiskUsage(ctx, types.DiskUsageOptions{Types: []types.DiskUsageObject{types.VolumeObject}})
		if err == nil || !strings.Contains(err.Error(), "disk usage operation is already running") {
			return du, err
		}
		select {
		case <-ctx.Done():
			return du, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}
