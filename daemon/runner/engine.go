package runner

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"

	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/internal/textutil"
)

// Labels on every container the runner creates. appstore.runner scopes the
// reconciler: it only ever adopts or removes containers of its own runner,
// so several appstoreds (and test daemons) can share one engine.
const (
	LabelManaged    = "appstore.managed"    // "true"
	LabelRunner     = "appstore.runner"     // the runner's id
	LabelLaunch     = "appstore.launch"     // launch id
	LabelRepository = "appstore.repository" // slug
	LabelBuild      = "appstore.build"      // build id
)

// engine is the runner's view of the Docker engine: the docker runtime,
// one container per launch.
type engine struct {
	cli    *client.Client
	logger *slog.Logger
	// network app containers join (Config.Network).
	network string
	// ownClient is closed with the runner.
	ownClient bool
}

func (e *engine) prepare(ctx context.Context) error { return e.ensureNetwork(ctx) }

func (e *engine) close() error {
	if e.ownClient {
		return e.cli.Close()
	}
	return nil
}

// imageRef checks that the build's image is on this engine.
func (e *engine) imageRef(ctx context.Context, b *store.LaunchBuild) (string, []int, error) {
	ref := b.ImageID
	if ref == "" {
		ref = b.ImageTag
	}
	img, err := e.image(ctx, ref)
	if err != nil {
		return ref, nil, err
	}
	return ref, img.ExposedPorts, nil
}

// endpoint is the container's port published on this host's loopback.
func (e *engine) endpoint(_ context.Context, ins container.InspectResponse, appPort int) (string, int, error) {
	p, err := hostPort(ins, appPort)
	return "127.0.0.1", p, err
}

// DefaultNetwork is the Docker network of app containers.
const DefaultNetwork = "appstore-apps"

// iccOption is the bridge driver's switch for traffic between containers
// of one network.
const iccOption = "com.docker.network.bridge.enable_icc"

// ensureNetwork creates the apps' network when it does not exist: a bridge
// on which containers reach the outside and are reached on their
// published loopback ports, but not each other. An existing network is
// used as it is (an operator may have made it on purpose); the default
// one, "bridge", is never created.
//
// Two runners starting at once on a fresh engine may both create it:
// engines before API 1.44 check names for duplicates only loosely. Every
// runner then uses the same one (networkID picks the smallest id), and the
// duplicates nobody uses are removed here.
func (e *engine) ensureNetwork(ctx context.Context) error {
	if e.network == "" || e.network == "bridge" {
		return nil
	}
	ids, err := e.networkIDs(ctx, e.network)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		_, err := e.cli.NetworkCreate(ctx, e.network, network.CreateOptions{
			Driver:  "bridge",
			Options: map[string]string{iccOption: "false"},
			Labels:  map[string]string{LabelManaged: "true"},
		})
		if err != nil && !errdefs.IsConflict(err) { // a conflict: another runner made it first
			return fmt.Errorf("create Docker network %s for the apps: %w (create it yourself, or run appstored with --app-network bridge)", e.network, err)
		}
		if err == nil {
			e.logger.Info("created the apps' Docker network", "network", e.network, "inter_container", false)
		}
		if ids, err = e.networkIDs(ctx, e.network); err != nil {
			return err
		}
	}
	for _, id := range ids[min(1, len(ids)):] {
		// In use or already gone are both fine: it is only tidying.
		if err := e.cli.NetworkRemove(ctx, id); err == nil {
			e.logger.Info("removed a duplicate of the apps' Docker network", "network", e.network, "id", id)
		}
	}
	return nil
}

// networkIDs returns the ids of the networks named name, smallest first
// (the engine's name filter also matches parts of names).
func (e *engine) networkIDs(ctx context.Context, name string) ([]string, error) {
	list, err := e.cli.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("name", name))})
	if err != nil {
		return nil, fmt.Errorf("list Docker networks: %w", err)
	}
	var ids []string
	for _, n := range list {
		if n.Name == name {
			ids = append(ids, n.ID)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// networkMode is what a new container's HostConfig.NetworkMode names: the
// apps' network by id, so that a duplicate of its name (see ensureNetwork)
// cannot make the engine refuse it as ambiguous.
func (e *engine) networkMode(ctx context.Context, name string) (container.NetworkMode, error) {
	if name == "" || name == "bridge" || name == "none" {
		return container.NetworkMode(name), nil
	}
	ids, err := e.networkIDs(ctx, name)
	if err == nil && len(ids) == 0 && name == e.network {
		// Removed behind the runner's back: make it again.
		if err = e.ensureNetwork(ctx); err == nil {
			ids, err = e.networkIDs(ctx, name)
		}
	}
	if err != nil {
		return "", err
	}
	if len(ids) == 0 {
		return "", fmt.Errorf("Docker network %s for the apps does not exist and could not be created", name)
	}
	return container.NetworkMode(ids[0]), nil
}

// containerSpec is one launch's container.
type containerSpec struct {
	Name  string
	Image string
	// LocalImage is the build's image on the runner's engine (its id or
	// tag), where Image may name it in a registry.
	LocalImage string
	LaunchID   int64
	BuildID    int64
	Slug       string
	Runner     string
	AppPort    int
	Profile    Profile
	Network    string
	// Env is the app's configuration, NAME=value (variables and secrets:
	// appconfig.Service.LaunchConfig), after PORT.
	Env []string
	// Volume is the app's data volume (storage:), nil without.
	Volume *volumeMount
}

// tmpfsOptions mount a small private /tmp: images FROM scratch have none,
// and it keeps scratch files out of the image's writable layer.
const tmpfsOptions = "rw,nosuid,nodev,size=64m,mode=1777"

// hardened returns the configuration of a launch's container. Every
// container gets it; nothing in a repository can loosen it.
func hardened(s containerSpec) (*container.Config, *container.HostConfig) {
	port := nat.Port(strconv.Itoa(s.AppPort) + "/tcp")
	pids := s.Profile.Pids
	cfg := &container.Config{
		Image:        s.Image,
		Env:          append([]string{"PORT=" + strconv.Itoa(s.AppPort)}, s.Env...),
		ExposedPorts: nat.PortSet{port: struct{}{}},
		Labels: map[string]string{
			LabelManaged:    "true",
			LabelRunner:     s.Runner,
			LabelLaunch:     strconv.FormatInt(s.LaunchID, 10),
			LabelRepository: s.Slug,
			LabelBuild:      strconv.FormatInt(s.BuildID, 10),
		},
	}
	host := &container.HostConfig{
		// Only this host can reach the app directly; everyone else goes
		// through the preview proxy. An empty HostPort lets the engine
		// choose a free one.
		PortBindings: nat.PortMap{port: []nat.PortBinding{{HostIP: "127.0.0.1", HostPort: ""}}},
		CapDrop:      []string{"ALL"},
		SecurityOpt:  []string{"no-new-privileges:true"},
		Privileged:   false,
		// No Binds and no host paths: nothing of the host, and never the
		// Docker socket, is visible inside; the only mount is the app's
		// own data volume, when it declares storage (withVolume).
		Tmpfs:         map[string]string{"/tmp": tmpfsOptions},
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
		NetworkMode:   container.NetworkMode(s.Network),
		IpcMode:       "private",
		LogConfig:     container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10m", "max-file": "2"}},
		Resources: container.Resources{
			Memory:     s.Profile.Memory,
			MemorySwap: s.Profile.Memory, // no swap on top of the limit
			NanoCPUs:   int64(s.Profile.CPUs * 1e9),
			PidsLimit:  &pids,
		},
	}
	return cfg, host
}

func (e *engine) ping(ctx context.Context) error {
	if _, err := e.cli.Ping(ctx); err != nil {
		return fmt.Errorf("Docker engine at %s: %w", e.cli.DaemonHost(), err)
	}
	return nil
}

// imageInfo is what a launch needs to know about its image.
type imageInfo struct {
	ID           string
	ExposedPorts []int
}

func (e *engine) image(ctx context.Context, ref string) (*imageInfo, error) {
	ins, err := e.cli.ImageInspect(ctx, ref)
	if err != nil {
		return nil, err
	}
	info := &imageInfo{ID: ins.ID}
	if ins.Config != nil {
		for p := range ins.Config.ExposedPorts {
			np := nat.Port(p)
			if np.Proto() != "tcp" {
				continue
			}
			if n := np.Int(); n > 0 {
				info.ExposedPorts = append(info.ExposedPorts, n)
			}
		}
	}
	return info, nil
}

func (e *engine) create(ctx context.Context, s containerSpec) (string, error) {
	if s.Network == "" {
		s.Network = e.network
	}
	cfg, host := hardened(s)
	withVolume(host, s.Volume)
	mode, err := e.networkMode(ctx, s.Network)
	if err != nil {
		return "", fmt.Errorf("create container: %w", err)
	}
	host.NetworkMode = mode
	resp, err := e.cli.ContainerCreate(ctx, cfg, host, nil, nil, s.Name)
	if err != nil {
		return "", fmt.Errorf("create container: %w", err)
	}
	if err := e.ownVolume(ctx, resp.ID, s.Volume); err != nil {
		_ = e.cli.ContainerRemove(ctx, resp.ID, container.RemoveOptions{Force: true})
		return "", fmt.Errorf("prepare the data volume: %w", err)
	}
	return resp.ID, nil
}

func (e *engine) start(ctx context.Context, id string) error {
	if err := e.cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		return fmt.Errorf("start container: %w", err)
	}
	return nil
}

func (e *engine) inspect(ctx context.Context, id string) (container.InspectResponse, error) {
	return e.cli.ContainerInspect(ctx, id)
}

// hostPort returns the loopback port the engine published appPort on.
func hostPort(ins container.InspectResponse, appPort int) (int, error) {
	if ins.NetworkSettings == nil {
		return 0, errors.New("the engine reported no network settings")
	}
	for _, b := range ins.NetworkSettings.Ports[nat.Port(strconv.Itoa(appPort)+"/tcp")] {
		if b.HostIP == "127.0.0.1" || b.HostIP == "" {
			if p, err := strconv.Atoi(b.HostPort); err == nil && p > 0 {
				return p, nil
			}
		}
	}
	return 0, fmt.Errorf("the engine published no host port for %d/tcp", appPort)
}

// remove stops the container (SIGTERM, then SIGKILL after grace) and removes
// it. A container that is already gone is not an error.
func (e *engine) remove(ctx context.Context, id string, grace time.Duration) error {
	secs := int(grace.Round(time.Second) / time.Second)
	if err := e.cli.ContainerStop(ctx, id, container.StopOptions{Timeout: &secs}); err != nil && !errdefs.IsNotFound(err) {
		e.logger.Debug("stop container", "container", textutil.ShortSHA(id), "err", err)
	}
	err := e.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true})
	if err != nil && !errdefs.IsNotFound(err) && !isRemovalInProgress(err) {
		return fmt.Errorf("remove container %s: %w", textutil.ShortSHA(id), err)
	}
	return nil
}

func isRemovalInProgress(err error) bool {
	return err != nil && strings.Contains(err.Error(), "is already in progress")
}

// list returns every container (running or not) of the runner.
func (e *engine) list(ctx context.Context, runner string) ([]container.Summary, error) {
	cs, err := e.cli.ContainerList(ctx, container.ListOptions{
		All:     true,
		Filters: filters.NewArgs(filters.Arg("label", LabelRunner+"="+runner), filters.Arg("label", LabelManaged+"=true")),
	})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	return cs, nil
}

// events streams the die events of the runner's containers.
func (e *engine) events(ctx context.Context, runner string) (<-chan events.Message, <-chan error) {
	return e.cli.Events(ctx, events.ListOptions{Filters: filters.NewArgs(
		filters.Arg("type", string(events.ContainerEventType)),
		filters.Arg("event", string(events.ActionDie)),
		filters.Arg("label", LabelRunner+"="+runner),
	)})
}

// maxTail bounds the output kept with a failed launch.
const maxTail = 4 << 10

// tail returns the last n lines of the container's output (stdout and
// stderr interleaved), at most maxTail bytes.
func (e *engine) tail(ctx context.Context, id string, n int) string {
	rc, err := e.cli.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(n)})
	if err != nil {
		return ""
	}
	return tailOf(rc, e.logger, id)
}

// tailOf reads a multiplexed log stream's lines, at most maxTail bytes.
func tailOf(rc io.ReadCloser, logger *slog.Logger, id string) string {
	defer rc.Close()
	var buf bytes.Buffer
	err := demux(io.LimitReader(rc, 1<<20), func(_ string, line []byte) error {
		buf.Write(line)
		buf.WriteByte('\n')
		return nil
	})
	if err != nil {
		logger.Debug("read container output", "container", textutil.ShortSHA(id), "err", err)
	}
	out := strings.TrimRight(buf.String(), "\n")
	if len(out) > maxTail {
		out = "…" + out[len(out)-maxTail:]
	}
	// The app's output goes into messages: no escapes or control
	// characters, valid UTF-8 (the cut above may split a character).
	return textutil.CleanLines(out)
}

// demux splits the engine's multiplexed log stream (8-byte frame headers:
// stream, 0, 0, 0, big-endian length) into lines per stream. A partial last
// line of a stream is emitted at the end.
func demux(r io.Reader, emit func(stream string, line []byte) error) error {
	br := bufio.NewReaderSize(r, 32<<10)
	partial := map[string][]byte{}
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			for _, s := range []string{"stdout", "stderr"} {
				if len(partial[s]) > 0 {
					if e := emit(s, partial[s]); e != nil {
						return e
					}
				}
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil
			}
			return err
		}
		stream := "stdout"
		if hdr[0] == 2 {
			stream = "stderr"
		}
		size := binary.BigEndian.Uint32(hdr[4:])
		frame := make([]byte, size)
		if _, err := io.ReadFull(br, frame); err != nil {
			return err
		}
		buf := append(partial[stream], frame...)
		for {
			i := bytes.IndexByte(buf, '\n')
			if i < 0 {
				break
			}
			if err := emit(stream, bytes.TrimSuffix(buf[:i], []byte("\r"))); err != nil {
				return err
			}
			buf = buf[i+1:]
		}
		// A line longer than 64 KiB is cut rather than held forever.
		if len(buf) > 64<<10 {
			if err := emit(stream, buf); err != nil {
				return err
			}
			buf = nil
		}
		partial[stream] = append([]byte(nil), buf...)
	}
}

// logs streams the container's output with timestamps.
func (e *engine) logs(ctx context.Context, id string, follow bool, tail int) (io.ReadCloser, error) {
	t := "all"
	if tail > 0 {
		t = strconv.Itoa(tail)
	}
	return e.cli.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: follow, Timestamps: true, Tail: t})
}
