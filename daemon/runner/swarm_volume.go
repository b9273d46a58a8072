package runner

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
)

// Data volumes on Swarm. A service mounts the app's volume by name, with
// the volume's labels, so that the node that runs the task creates it the
// first time (Docker's local driver) and uses it afterwards. A local
// volume stays on its node: the first node that runs a task of the app is
// recorded as the volume's node (a Swarm config, visible to every
// manager), and every later service of the app is pinned to it with a
// placement constraint on the node's id. A launch whose volume's node is
// drained, down or gone fails saying so, rather than starting with an
// empty volume elsewhere.

// Service labels of an app with a data volume.
const (
	labelVolume     = "appstore.volume"      // the volume's name
	labelVolumeNode = "appstore.volume.node" // the node it is pinned to ("" on the first run)
	// labelNode is the node id recorded on a volume's Swarm config.
	labelNode = "appstore.node"
)

// volumeForgetter is a runtime that keeps something about a data volume
// besides the volume: RemoveVolume tells it the volume is gone.
type volumeForgetter interface {
	forgetVolume(ctx context.Context, name string) error
}

// volumeConfigName is the Swarm config that records the node of volume
// name (config names are short; the volume's name is in its labels).
func volumeConfigName(name string) string {
	sum := sha256.Sum256([]byte(name))
	return "appstore-volume-node-" + hex.EncodeToString(sum[:10])
}

// volumeNode is the recorded node of volume name, "" when none is.
func (s *swarmRuntime) volumeNode(ctx context.Context, name string) (string, error) {
	cn := volumeConfigName(name)
	list, err := s.cli.ConfigList(ctx, swarm.ConfigListOptions{Filters: filters.NewArgs(filters.Arg("name", cn))})
	if err != nil {
		return "", fmt.Errorf("read the Swarm node of data volume %s: %w", name, err)
	}
	for _, c := range list {
		if c.Spec.Name == cn && c.Spec.Labels[labelVolume] == name {
			return c.Spec.Labels[labelNode], nil
		}
	}
	return "", nil
}

// recordVolumeNode records node as the node of the service's volume, once:
// the first record stays (another runner may have made it first).
func (s *swarmRuntime) recordVolumeNode(ctx context.Context, labels map[string]string, node string) {
	name := labels[labelVolume]
	if name == "" || node == "" || labels[labelVolumeNode] != "" {
		return
	}
	s.mu.Lock()
	done := s.recorded[name] == node
	s.mu.Unlock()
	if done {
		return
	}
	_, err := s.cli.ConfigCreate(ctx, swarm.ConfigSpec{
		Annotations: swarm.Annotations{Name: volumeConfigName(name), Labels: map[string]string{
			LabelManaged:    "true",
			LabelRepository: labels[LabelRepository],
			labelVolume:     name,
			labelNode:       node,
		}},
		Data: []byte(node),
	})
	switch {
	case err == nil:
		s.logger.Info("pinned a data volume to its Swarm node", "volume", name, "node", node)
	case errdefs.IsConflict(err) || strings.Contains(err.Error(), "already exists"):
	default:
		s.logger.Warn("record the Swarm node of a data volume", "volume", name, "node", node, "err", err)
		return
	}
	s.mu.Lock()
	s.recorded[name] = node
	s.mu.Unlock()
}

// forgetVolume deletes the record of the volume's node: the app's next
// volume may be made on any node.
func (s *swarmRuntime) forgetVolume(ctx context.Context, name string) error {
	s.mu.Lock()
	delete(s.recorded, name)
	s.mu.Unlock()
	err := s.cli.ConfigRemove(ctx, volumeConfigName(name))
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove the Swarm record of data volume %s: %w", name, err)
	}
	return nil
}

// withVolume adds the app's volume to the service: the mount, the labels
// that name it, and the pin to its node when one is recorded.
func (s *swarmRuntime) withVolume(spec *swarm.ServiceSpec, v *volumeMount, node string) {
	if v == nil {
		return
	}
	cs := spec.TaskTemplate.ContainerSpec
	cs.Mounts = append(cs.Mounts, mount.Mount{
		Type: mount.TypeVolume, Source: v.Name, Target: v.Path,
		VolumeOptions: &mount.VolumeOptions{Labels: v.Labels},
	})
	for _, l := range []map[string]string{spec.Labels, cs.Labels} {
		l[labelVolume] = v.Name
		if node != "" {
			l[labelVolumeNode] = node
		}
	}
	if node != "" {
		p := spec.TaskTemplate.Placement
		p.Constraints = append(slices.Clone(p.Constraints), "node.id=="+node)
	}
}

// prepareVolume readies the app's volume for a service: it reads the
// volume's node and, when the task may run on this runner's node (the
// volume's node, or none recorded yet), makes the volume's top directory
// writable by the app's user as the docker runtime does (ownVolume),
// through a container of the app's image that is created and removed
// without ever starting. A node without the image or without this runner
// leaves the directory as Docker makes it (see docs/operations.md).
func (s *swarmRuntime) prepareVolume(ctx context.Context, c containerSpec) (node string, err error) {
	if c.Volume == nil {
		return "", nil
	}
	node, err = s.volumeNode(ctx, c.Volume.Name)
	if err != nil {
		return "", err
	}
	if local := s.localNode(); node != "" && node != local {
		return node, nil
	}
	img := cmp.Or(c.LocalImage, c.Image)
	resp, err := s.cli.ContainerCreate(ctx,
		&container.Config{Image: img, Labels: map[string]string{LabelManaged: "true", labelVolume: c.Volume.Name}},
		&container.HostConfig{
			NetworkMode: "none", CapDrop: []string{"ALL"},
			Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: c.Volume.Name, Target: c.Volume.Path}},
		}, nil, nil, "")
	if errdefs.IsNotFound(err) {
		s.logger.Debug("no local image to prepare the data volume with", "image", img, "volume", c.Volume.Name)
		return node, nil
	}
	if err != nil {
		return "", fmt.Errorf("prepare the data volume: %w", err)
	}
	defer func() {
		_ = s.cli.ContainerRemove(context.WithoutCancel(ctx), resp.ID, container.RemoveOptions{Force: true})
	}()
	if err := s.local.ownVolume(ctx, resp.ID, c.Volume); err != nil {
		return "", fmt.Errorf("prepare the data volume: %w", err)
	}
	return node, nil
}

func (s *swarmRuntime) localNode() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nodeID
}
