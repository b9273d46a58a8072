package builder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	dockerbuild "github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
)

// Engine is the part of the Docker engine API the build worker uses.
// *client.Client implements it; tests wrap it to count calls.
type Engine interface {
	Ping(ctx context.Context) (types.Ping, error)
	ImageBuild(ctx context.Context, buildContext io.Reader, options dockerbuild.ImageBuildOptions) (dockerbuild.ImageBuildResponse, error)
	ImageInspect(ctx context.Context, imageID string, opts ...client.ImageInspectOption) (image.InspectResponse, error)
	ImageTag(ctx context.Context, source, target string) error
	ImageList(ctx context.Context, options image.ListOptions) ([]image.Summary, error)
	ImageRemove(ctx context.Context, imageID string, options image.RemoveOptions) ([]image.DeleteResponse, error)
	// ImagePush sends an image to the registry (--registry).
	ImagePush(ctx context.Context, ref string, options image.PushOptions) (io.ReadCloser, error)
	ServerVersion(ctx context.Context) (types.Version, error)
	// BuildCachePrune trims the engine's BuildKit cache (--build-cache-size).
	BuildCachePrune(ctx context.Context, opts dockerbuild.CachePruneOptions) (*dockerbuild.CachePruneReport, error)
	// DialHijack upgrades a request to url into a raw connection: BuildKit's
	// gRPC API at /grpc and its sessions at /session, as buildx's "docker"
	// driver reaches them.
	DialHijack(ctx context.Context, url, proto string, meta map[string][]string) (net.Conn, error)
	DaemonHost() string
}

var _ Engine = (*client.Client)(nil)

// NewEngine connects to the Docker engine named by the environment
// (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH; default
// unix:///var/run/docker.sock), negotiating the API version with it so
// that older engines (API 1.41 of docker 20.10) are spoken to in their
// version. It does not contact the engine; Ping does.
func NewEngine() (*client.Client, error) {
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		host := os.Getenv("DOCKER_HOST")
		return nil, fmt.Errorf("Docker engine client for DOCKER_HOST=%q: %w (set DOCKER_HOST to unix:///path/docker.sock or tcp://host:2376)", host, err)
	}
	return c, nil
}

// EngineError is an engine that cannot be reached; its message says what
// to do.
type EngineError struct {
	Host string
	Err  error
}

func (e *EngineError) Error() string {
	return fmt.Sprintf("Docker engine not reachable at %s: start dockerd or set DOCKER_HOST (%v)", e.Host, e.Err)
}

func (e *EngineError) Unwrap() error { return e.Err }

// PingEngine checks that the engine answers, for /readyz and before a
// build is claimed. An unreachable engine is an *EngineError.
func PingEngine(ctx context.Context, e Engine) error {
	if _, err := e.Ping(ctx); err != nil {
		return engineError(e, err)
	}
	return nil
}

// engineError turns a connection failure into an *EngineError and leaves
// other errors as they are.
func engineError(e Engine, err error) error {
	if err == nil {
		return nil
	}
	var ee *EngineError
	if errors.As(err, &ee) {
		return err
	}
	if client.IsErrConnectionFailed(err) || cerrdefs.IsUnavailable(err) {
		return &EngineError{Host: e.DaemonHost(), Err: err}
	}
	return err
}

// isNotFound reports whether the engine said the object does not exist.
func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }

// isInvalid reports whether the engine refused the request itself, as it
// does for a Dockerfile it cannot parse.
func isInvalid(err error) bool { return cerrdefs.IsInvalidArgument(err) }
