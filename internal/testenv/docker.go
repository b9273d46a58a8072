package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Docker stops the test (see Require) unless a Docker engine answers at
// DOCKER_HOST (default unix:///var/run/docker.sock).
func Docker(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	Require(t, "Docker engine", PingDocker(ctx))
}

// PingDocker checks that a Docker engine answers GET /_ping at DOCKER_HOST.
// It speaks HTTP itself so that tests that only need to know do not link the
// Docker client.
func PingDocker(ctx context.Context) error {
	client, base, err := dockerHTTP()
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/_ping", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("Docker engine at %s: %w (is dockerd running? make test starts it)", dockerHost(), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("Docker engine at %s answered /_ping with %s: %s", dockerHost(), resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

func dockerHost() string {
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h
	}
	return "unix:///var/run/docker.sock"
}

// dockerHTTP returns an HTTP client for DOCKER_HOST and the base URL to use
// with it.
func dockerHTTP() (*http.Client, string, error) {
	host := dockerHost()
	u, err := url.Parse(host)
	if err != nil {
		return nil, "", fmt.Errorf("DOCKER_HOST=%q: %w", host, err)
	}
	tr := &http.Transport{DisableKeepAlives: true}
	switch u.Scheme {
	case "unix":
		path := u.Path
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
		return &http.Client{Transport: tr}, "http://docker", nil
	case "tcp":
		if os.Getenv("DOCKER_TLS_VERIFY") == "" {
			return &http.Client{Transport: tr}, "http://" + u.Host, nil
		}
		cfg, err := dockerTLS()
		if err != nil {
			return nil, "", err
		}
		tr.TLSClientConfig = cfg
		return &http.Client{Transport: tr}, "https://" + u.Host, nil
	default:
		return nil, "", fmt.Errorf("DOCKER_HOST=%q: only unix:// and tcp:// engines are supported by the tests", host)
	}
}

func dockerTLS() (*tls.Config, error) {
	dir := os.Getenv("DOCKER_CERT_PATH")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".docker")
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	if err != nil {
		return nil, fmt.Errorf("DOCKER_TLS_VERIFY is set: %w", err)
	}
	ca, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		return nil, fmt.Errorf("DOCKER_TLS_VERIFY is set: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
