package runner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/daemon/registry"
)

// The Swarm runtime: a launch is a service of one replica on the Swarm
// this runner's engine manages. Swarm places its task on a node (the
// --swarm-constraint placement), restarts it a bounded number of times and
// reschedules it when its node goes away; the runner follows the task
// through the Swarm API: its state, its node's address and the port
// published there in host mode.

// swarmMaxRestarts bounds Swarm's restarts of a failing task: an app that
// crashes three times fails its launch, with the last exit code.
const swarmMaxRestarts = 2

// swarmRestartDelay is the wait between those restarts.
const swarmRestartDelay = time.Second

// Labels Swarm puts on a task's container.
const swarmServiceIDLabel = "com.docker.swarm.service.id"

type swarmRuntime struct {
	cli         *client.Client
	logger      *slog.Logger
	reg         *registry.Registry
	constraints []string
	grace       time.Duration
	ownClient   bool
	local       *engine // this node's engine: images, container events
	// allRemote makes the runtime treat every task as one on another
	// node (tests: this node's die events are ignored, watchTasks
	// reports every task's death).
	allRemote atomic.Bool
	// network is the swarm-scoped network tasks join ("": none, the
	// node's default bridge; swarm_network.go).
	network string
	// portMu makes picking a task's host port and creating its service
	// one step (swarm_ports.go).
	portMu sync.Mutex

	mu     sync.Mutex
	nodes  map[string]nodeAddr // node id → address, briefly cached
	nodeID string              // this engine's node
	// recorded are the data volumes whose node this runtime recorded
	// (volume → node id).
	recorded map[string]string
}

type nodeAddr struct {
	addr string
	at   time.Time
}

func newSwarmRuntime(cli *client.Client, cfg Config, own bool) *swarmRuntime {
	return &swarmRuntime{
		cli: cli, logger: cfg.Logger, reg: cfg.Registry, constraints: cfg.SwarmConstraints,
		grace: cfg.StopGrace, ownClient: own, local: &engine{cli: cli, logger: cfg.Logger},
		network: swarmNetworkName(cfg.Network),
		nodes:   map[string]nodeAddr{}, recorded: map[string]string{},
	}
}

func (s *swarmRuntime) ping(ctx context.Context) error { return s.local.ping(ctx) }

func (s *swarmRuntime) close() error {
	if s.ownClient {
		return s.cli.Close()
	}
	return nil
}

// prepare checks that the engine is a manager of an active swarm and makes
// the apps' network.
func (s *swarmRuntime) prepare(ctx context.Context) error {
	info, err := s.cli.Info(ctx)
	if err != nil {
		return fmt.Errorf("Docker engine at %s: %w", s.cli.DaemonHost(), err)
	}
	if info.Swarm.LocalNodeState != swarm.LocalNodeStateActive {
		return fmt.Errorf("--runtime swarm: the Docker engine at %s is not in a swarm (state %q): run `docker swarm init` there, or join it to the swarm as a manager", s.cli.DaemonHost(), info.Swarm.LocalNodeState)
	}
	if !info.Swarm.ControlAvailable {
		return fmt.Errorf("--runtime swarm: the Docker engine at %s is a Swarm worker; the runner needs a manager (`docker node promote`) to create services", s.cli.DaemonHost())
	}
	s.mu.Lock()
	s.nodeID = info.Swarm.NodeID
	s.mu.Unlock()
	return s.ensureNetwork(ctx)
}

// imageRef is the build's image by digest in the registry, so that every
// node pulls exactly what was built. Without a registry, the local image
// (by tag: only nodes that have it can run it).
func (s *swarmRuntime) imageRef(ctx context.Context, b *store.LaunchBuild) (string, []int, error) {
	var ports []int
	if img, err := s.local.image(ctx, cmp.Or(b.ImageID, b.ImageTag)); err == nil {
		ports = img.ExposedPorts
	} else if !errdefs.IsNotFound(err) {
		return "", nil, err
	}
	switch {
	case b.ImageDigest != "" && b.RegistryImage != "":
		return registry.Pinned(b.RegistryImage, b.ImageDigest), ports, nil
	case s.reg != nil:
		return "", nil, &catalog.ConflictError{Message: fmt.Sprintf("build #%d was not pushed to the registry %s (built before --registry was set, or pruned there): rebuild with `appstore build <app>`", b.ID, s.reg)}
	}
	ref := cmp.Or(b.ImageTag, b.ImageID)
	if _, err := s.local.image(ctx, ref); err != nil {
		return ref, nil, err
	}
	return ref, ports, nil
}

// serviceSpec is a launch's service: the container's hardening where
// services have it, the profile's limits with a quarter reserved, a
// bounded restart policy, the placement constraints and the app's port
// published in host mode on its node.
func (s *swarmRuntime) serviceSpec(c containerSpec) swarm.ServiceSpec {
	labels := map[string]string{
		LabelManaged:    "true",
		LabelRunner:     c.Runner,
		LabelLaunch:     strconv.FormatInt(c.LaunchID, 10),
		LabelRepository: c.Slug,
		LabelBuild:      strconv.FormatInt(c.BuildID, 10),
		labelProfile:    c.Profile.Name,
	}
	one := uint64(1)
	restarts := uint64(swarmMaxRestarts)
	delay := swarmRestartDelay
	grace := s.grace
	return swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: c.Name, Labels: labels},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{
				Image:  c.Image,
				Labels: labels,
				// The app's variables and secrets after PORT, as for a
				// container (they are in the service's spec, which only
				// the swarm's managers hold).
				Env: append([]string{"PORT=" + strconv.Itoa(c.AppPort)}, c.Env...),
				// As the docker runtime: no capabilities, no privilege
				// gain, no mounts of the host; a private /tmp.
				CapabilityDrop:  []string{"ALL"},
				Privileges:      &swarm.Privileges{NoNewPrivileges: true},
				Mounts:          []mount.Mount{{Type: mount.TypeTmpfs, Target: "/tmp", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 64 << 20, Mode: 0o1777}}},
				StopGracePeriod: &grace,
			},
			Resources: &swarm.ResourceRequirements{
				Limits: &swarm.Limit{
					NanoCPUs:    int64(c.Profile.CPUs * 1e9),
					MemoryBytes: c.Profile.Memory,
					Pids:        c.Profile.Pids,
				},
				Reservations: &swarm.Resources{
					NanoCPUs:    int64(c.Profile.CPUs * 1e9 / 4),
					MemoryBytes: c.Profile.Memory / 4,
				},
			},
			RestartPolicy: &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionOnFailure, Delay: &delay, MaxAttempts: &restarts},
			Placement:     &swarm.Placement{Constraints: s.constraints},
			// The apps' network, without traffic between tasks.
			Networks:  s.networks(),
			LogDriver: &swarm.Driver{Name: "json-file", Options: map[string]string{"max-size": "10m", "max-file": "2"}},
		},
		Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}},
		EndpointSpec: &swarm.EndpointSpec{
			// No virtual IP and no routing mesh: the proxy reaches the
			// task on its node, where the port is published.
			Mode:  swarm.ResolutionModeDNSRR,
			Ports: []swarm.PortConfig{{Protocol: swarm.PortConfigProtocolTCP, TargetPort: uint32(c.AppPort), PublishMode: swarm.PortConfigPublishModeHost}},
		},
	}
}

// labelProfile is a service's resource profile: a sleeping service is
// woken only for a launch of the same build and profile.
const labelProfile = "appstore.profile"

func (s *swarmRuntime) create(ctx context.Context, c containerSpec) (string, error) {
	node, err := s.prepareVolume(ctx, c)
	if err != nil {
		return "", err
	}
	spec := s.serviceSpec(c)
	s.withVolume(&spec, c.Volume, node)
	if id, ok := s.wake(ctx, c, spec); ok {
		return id, nil
	}
	s.portMu.Lock()
	defer s.portMu.Unlock()
	port, err := s.publishedPort(ctx)
	if err != nil {
		return "", err
	}
	spec.EndpointSpec.Ports[0].PublishedPort = port
	resp, err := s.cli.ServiceCreate(ctx, spec, swarm.ServiceCreateOptions{EncodedRegistryAuth: s.reg.EngineAuth()})
	if err != nil && s.network != "" && strings.Contains(err.Error(), "network") && strings.Contains(err.Error(), "not found") {
		// The apps' network was removed behind the runner's back (or the
		// swarm was made anew): make it again.
		if nerr := s.ensureNetwork(ctx); nerr == nil {
			resp, err = s.cli.ServiceCreate(ctx, spec, swarm.ServiceCreateOptions{EncodedRegistryAuth: s.reg.EngineAuth()})
		}
	}
	if err != nil {
		return "", fmt.Errorf("create Swarm service: %w", err)
	}
	return resp.ID, nil
}

// sleep scales the service to zero and marks it sleeping: the next launch
// of its build and profile wakes it (create).
func (s *swarmRuntime) sleep(ctx context.Context, id string) error {
	err := s.update(ctx, id, func(spec *swarm.ServiceSpec) bool {
		zero := uint64(0)
		spec.Mode.Replicated = &swarm.ReplicatedService{Replicas: &zero}
		spec.Labels[LabelSleeping] = "true"
		return true
	})
	if err == nil {
		s.awaitNoContainers(ctx, id, s.grace)
	}
	return err
}

// wake takes the runner's sleeping service of the launch's app, build and
// profile, if there is one: it is relabelled for the new launch (its
// environment, volume mount and placement as want has them now) and scaled
// back to one replica.
func (s *swarmRuntime) wake(ctx context.Context, c containerSpec, want swarm.ServiceSpec) (string, bool) {
	svcs, err := s.cli.ServiceList(ctx, swarm.ServiceListOptions{Filters: filters.NewArgs(
		filters.Arg("label", LabelRunner+"="+c.Runner), filters.Arg("label", LabelSleeping+"=true"),
		filters.Arg("label", LabelRepository+"="+c.Slug))})
	if err != nil {
		return "", false
	}
	for _, svc := range svcs {
		l := svc.Spec.Labels
		if l[LabelBuild] != strconv.FormatInt(c.BuildID, 10) || l[labelProfile] != c.Profile.Name {
			continue
		}
		err := s.update(ctx, svc.ID, func(spec *swarm.ServiceSpec) bool {
			one := uint64(1)
			spec.Labels = want.Labels
			spec.TaskTemplate.ContainerSpec.Labels = want.TaskTemplate.ContainerSpec.Labels
			spec.TaskTemplate.ContainerSpec.Env = want.TaskTemplate.ContainerSpec.Env // as the launch reads it now
			spec.TaskTemplate.ContainerSpec.Mounts = want.TaskTemplate.ContainerSpec.Mounts
			spec.TaskTemplate.Placement = want.TaskTemplate.Placement
			spec.Mode.Replicated = &swarm.ReplicatedService{Replicas: &one}
			return true
		})
		if err != nil {
			s.logger.Warn("wake the sleeping service; creating a new one", "service", svc.ID, "err", err)
			_ = s.cli.ServiceRemove(ctx, svc.ID)
			continue
		}
		return svc.ID, true
	}
	return "", false
}

// start is done by create (one replica); for a service scaled to zero it
// scales back to one.
func (s *swarmRuntime) start(ctx context.Context, id string) error { return s.scale(ctx, id, 1) }

func (s *swarmRuntime) scale(ctx context.Context, id string, n uint64) error {
	return s.update(ctx, id, func(spec *swarm.ServiceSpec) bool {
		if r := spec.Mode.Replicated; r != nil && r.Replicas != nil && *r.Replicas == n {
			return false
		}
		spec.Mode.Replicated = &swarm.ReplicatedService{Replicas: &n}
		return true
	})
}

// update changes the service's spec with change (which reports whether it
// changed anything), reading it again when another update came between.
func (s *swarmRuntime) update(ctx context.Context, id string, change func(*swarm.ServiceSpec) bool) error {
	for attempt := 0; ; attempt++ {
		svc, _, err := s.cli.ServiceInspectWithRaw(ctx, id, swarm.ServiceInspectOptions{})
		if err != nil {
			return fmt.Errorf("update Swarm service: %w", err)
		}
		spec := svc.Spec
		if spec.Labels == nil {
			spec.Labels = map[string]string{}
		}
		if !change(&spec) {
			return nil
		}
		_, err = s.cli.ServiceUpdate(ctx, id, svc.Version, spec, swarm.ServiceUpdateOptions{EncodedRegistryAuth: s.reg.EngineAuth()})
		if err == nil {
			return nil
		}
		if attempt >= 3 || !strings.Contains(err.Error(), "update out of sequence") {
			return fmt.Errorf("update Swarm service: %w", err)
		}
	}
}

// tasks returns the service's tasks, newest first.
func (s *swarmRuntime) tasks(ctx context.Context, id string) ([]swarm.Task, error) {
	ts, err := s.cli.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", id))})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ts, func(a, b swarm.Task) int { return b.Meta.CreatedAt.Compare(a.Meta.CreatedAt) })
	return ts, nil
}

var taskStarting = map[swarm.TaskState]bool{
	swarm.TaskStateNew: true, swarm.TaskStateAllocated: true, swarm.TaskStatePending: true,
	swarm.TaskStateAssigned: true, swarm.TaskStateAccepted: true, swarm.TaskStatePreparing: true,
	swarm.TaskStateReady: true, swarm.TaskStateStarting: true,
}

// inspect reports the service as a container: its current task's state
// (running; restarting while Swarm starts, restarts or reschedules it;
// exited once Swarm gives up), the task's exit code and error, and the
// node's address and published port in NetworkSettings.Ports.
func (s *swarmRuntime) inspect(ctx context.Context, id string) (container.InspectResponse, error) {
	svc, _, err := s.cli.ServiceInspectWithRaw(ctx, id, swarm.ServiceInspectOptions{})
	if err != nil {
		return container.InspectResponse{}, err
	}
	st := &container.State{Status: container.StateCreated}
	ins := container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{ID: svc.ID, Name: svc.Spec.Name, State: st, HostConfig: &container.HostConfig{}},
		Config:            &container.Config{Labels: svc.Spec.Labels},
		NetworkSettings:   &container.NetworkSettings{},
	}
	if r := svc.Spec.TaskTemplate.Resources; r != nil && r.Limits != nil {
		ins.HostConfig.Memory = r.Limits.MemoryBytes
	}
	if r := svc.Spec.Mode.Replicated; r != nil && r.Replicas != nil && *r.Replicas == 0 {
		st.Status = container.StateExited
		st.Error = "the service is scaled to zero"
		return ins, nil
	}
	all, err := s.tasks(ctx, id)
	if err != nil {
		return ins, err
	}
	// Only the tasks of the service's current launch: a woken service
	// still lists those of the launch that slept.
	var ts []swarm.Task
	for _, t := range all {
		if cs := t.Spec.ContainerSpec; cs != nil && cs.Labels[LabelLaunch] == svc.Spec.Labels[LabelLaunch] {
			ts = append(ts, t)
		}
	}
	if len(ts) == 0 {
		st.Status, st.Restarting = container.StateRestarting, true
		return ins, nil
	}
	cur := ts[0]
	if cs := cur.Status.ContainerStatus; cs != nil {
		st.ExitCode = cs.ExitCode
		st.Pid = cs.PID
	}
	switch state := cur.Status.State; {
	case state == swarm.TaskStateRunning && !s.localContainerRuns(ctx, cur):
		// This node's engine saw the task's container end; the manager
		// learns of it a moment later (seconds on a loaded node). Until
		// then a probe may find the port held by Docker's proxy dialling
		// the dead container, which must not count as the app running.
		st.Status, st.Restarting = container.StateRestarting, true
	case state == swarm.TaskStateRunning:
		st.Status, st.Running = container.StateRunning, true
		s.recordVolumeNode(ctx, svc.Spec.Labels, cur.NodeID)
		for _, p := range cur.Status.PortStatus.Ports {
			if p.Protocol == swarm.PortConfigProtocolTCP && p.PublishedPort > 0 {
				addr, err := s.nodeAddr(ctx, cur.NodeID)
				if err != nil {
					return ins, err
				}
				port := nat.Port(strconv.Itoa(int(p.TargetPort)) + "/tcp")
				ins.NetworkSettings.Ports = nat.PortMap{port: {{HostIP: addr, HostPort: strconv.Itoa(int(p.PublishedPort))}}}
			}
		}
		if len(ins.NetworkSettings.Ports) == 0 {
			// Running, but its node has not reported the port yet.
			st.Status, st.Running, st.Restarting = container.StateRestarting, false, true
		}
	case state == swarm.TaskStatePending && cur.Status.Err != "":
		// No node can take it (drained, down, or none matches the
		// constraints): the launch fails with Swarm's reason.
		st.Status = container.StateExited
		st.Error = "Swarm cannot place the app on any node: " + cur.Status.Err
		if n := svc.Spec.Labels[labelVolumeNode]; n != "" {
			st.Error += fmt.Sprintf(" (its data volume %s is on node %s, and the app runs only there: make that node available again, or delete the volume with `appstore volume rm %s`)",
				svc.Spec.Labels[labelVolume], n, svc.Spec.Labels[LabelRepository])
		}
	case taskStarting[state]:
		st.Status, st.Restarting = container.StateRestarting, true
	case state == swarm.TaskStateRejected:
		st.Status = container.StateExited
		st.Error = "Swarm's node refused the task: " + cmp.Or(cur.Status.Err, cur.Status.Message)
	case state == swarm.TaskStateComplete:
		// Exited 0: the restart policy (on-failure) leaves it ended.
		st.Status = container.StateExited
	case state == swarm.TaskStateFailed:
		failures := 0
		for _, t := range ts {
			if t.Status.State == swarm.TaskStateFailed {
				failures++
			}
		}
		if failures <= swarmMaxRestarts {
			st.Status, st.Restarting = container.StateRestarting, true // Swarm restarts it
			break
		}
		st.Status = container.StateExited
	default: // shutdown, orphaned, remove: its node went away or was drained
		// The service still wants its replica: Swarm makes another task
		// (a pending one with an error when no node can take it).
		st.Status, st.Restarting = container.StateRestarting, true
		st.Error = fmt.Sprintf("the task was %s: %s", state, cmp.Or(cur.Status.Err, cur.Status.Message))
	}
	return ins, nil
}

// localContainerRuns says whether the container of a task the manager
// reports running still runs, when the task is on this node: the node's
// engine knows of its end first. A task on another node (or one whose
// container this engine cannot inspect now) counts as running.
func (s *swarmRuntime) localContainerRuns(ctx context.Context, t swarm.Task) bool {
	cs := t.Status.ContainerStatus
	if cs == nil || cs.ContainerID == "" || t.NodeID != s.localNode() || s.allRemote.Load() {
		return true
	}
	ins, err := s.cli.ContainerInspect(ctx, cs.ContainerID)
	switch {
	case errdefs.IsNotFound(err):
		return false
	case err != nil || ins.ContainerJSONBase == nil || ins.State == nil:
		return true
	}
	return ins.State.Running && !ins.State.Restarting
}

// nodeAddr is the address of a node (cached for 10 s): where its tasks'
// host-mode ports are reached.
func (s *swarmRuntime) nodeAddr(ctx context.Context, id string) (string, error) {
	s.mu.Lock()
	n, ok := s.nodes[id]
	s.mu.Unlock()
	if ok && time.Since(n.at) < 10*time.Second {
		return n.addr, nil
	}
	node, _, err := s.cli.NodeInspectWithRaw(ctx, id)
	if err != nil {
		return "", fmt.Errorf("inspect Swarm node %s: %w", id, err)
	}
	addr := node.Status.Addr
	if addr == "" || addr == "0.0.0.0" {
		addr = "127.0.0.1"
	}
	s.mu.Lock()
	s.nodes[id] = nodeAddr{addr: addr, at: time.Now()}
	s.mu.Unlock()
	return addr, nil
}

func (s *swarmRuntime) endpoint(_ context.Context, ins container.InspectResponse, appPort int) (string, int, error) {
	if ins.NetworkSettings != nil {
		for _, b := range ins.NetworkSettings.Ports[nat.Port(strconv.Itoa(appPort)+"/tcp")] {
			if p, err := strconv.Atoi(b.HostPort); err == nil && p > 0 {
				return b.HostIP, p, nil
			}
		}
	}
	return "", 0, fmt.Errorf("the Swarm task published no port for %d/tcp", appPort)
}

// remove removes the service and waits (bounded) until its containers on
// this node are gone, so that a stopped launch leaves nothing running.
func (s *swarmRuntime) remove(ctx context.Context, id string, grace time.Duration) error {
	if err := s.cli.ServiceRemove(ctx, id); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove Swarm service %s: %w", id, err)
	}
	s.awaitNoContainers(ctx, id, grace)
	return nil
}

// awaitNoContainers waits (bounded) until the service has no container on
// this node, running or not: stopped means nothing left behind.
func (s *swarmRuntime) awaitNoContainers(ctx context.Context, id string, grace time.Duration) {
	deadline := time.Now().Add(grace + 15*time.Second)
	for time.Now().Before(deadline) {
		cs, err := s.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", swarmServiceIDLabel+"="+id))})
		if err != nil || len(cs) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// list returns the runner's services as containers, each in its current
// task's state.
func (s *swarmRuntime) list(ctx context.Context, runner string) ([]container.Summary, error) {
	svcs, err := s.cli.ServiceList(ctx, swarm.ServiceListOptions{Filters: filters.NewArgs(
		filters.Arg("label", LabelRunner+"="+runner), filters.Arg("label", LabelManaged+"=true"))})
	if err != nil {
		return nil, fmt.Errorf("list Swarm services: %w", err)
	}
	out := make([]container.Summary, 0, len(svcs))
	for _, svc := range svcs {
		c := container.Summary{ID: svc.ID, Names: []string{"/" + svc.Spec.Name}, Labels: svc.Spec.Labels, State: container.StateExited}
		if ins, err := s.inspect(ctx, svc.ID); err == nil {
			c.State = ins.State.Status
		} else if errdefs.IsNotFound(err) {
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// events are the die events of the runner's task containers on this node,
// reported as the death of their service (Actor.ID), and the deaths of its
// tasks on other nodes, found by polling the Swarm API (watchTasks).
func (s *swarmRuntime) events(ctx context.Context, runner string) (<-chan events.Message, <-chan error) {
	in, errs := s.local.events(ctx, runner)
	out := make(chan events.Message)
	go s.watchTasks(ctx, runner, out)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-in:
				if !ok {
					return
				}
				svc := m.Actor.Attributes[swarmServiceIDLabel]
				if svc == "" || s.allRemote.Load() {
					continue
				}
				m.Actor.ID = svc
				// Swarm learns of the death a moment after the engine:
				// until then the service still reports the task running.
				s.awaitTaskEnd(ctx, m.Actor.Attributes["com.docker.swarm.task.id"])
				select {
				case out <- m:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, errs
}

// awaitTaskEnd waits (at most 5 s) until Swarm reports the task ended.
func (s *swarmRuntime) awaitTaskEnd(ctx context.Context, taskID string) {
	if taskID == "" {
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		t, _, err := s.cli.TaskInspectWithRaw(ctx, taskID)
		if err != nil || t.Status.State != swarm.TaskStateRunning {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *swarmRuntime) tail(ctx context.Context, id string, n int) string {
	rc, err := s.cli.ServiceLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(n)})
	if err != nil {
		return ""
	}
	return tailOf(rc, s.logger, id)
}

func (s *swarmRuntime) logs(ctx context.Context, id string, follow bool, tail int) (io.ReadCloser, error) {
	t := "all"
	if tail > 0 {
		t = strconv.Itoa(tail)
	}
	rc, err := s.cli.ServiceLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: follow, Timestamps: true, Tail: t})
	if err != nil && strings.Contains(err.Error(), "No such service") {
		return nil, errors.Join(errdefs.ErrNotFound, err)
	}
	return rc, err
}

var _ runtime = (*swarmRuntime)(nil)
