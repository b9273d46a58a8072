package testenv

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"
)

// busyboxPath is where Debian's busybox-static installs its binary.
const busyboxPath = "/bin/busybox"

// busyboxDockerfile makes the base image: the static busybox and its
// applets, so that RUN steps of test Dockerfiles have a shell (sh -c) and
// the usual tools. Tests cannot pull images: there is no registry.
const busyboxDockerfile = `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["/bin/sh"]
`

// BusyboxImage returns the tag of a local base image made FROM scratch
// with the host's static busybox (scripts/test-deps.sh installs Debian's
// busybox-static) and its applets installed, built on the Docker engine
// once per content: later test runs find it there. Test Dockerfiles whose
// RUN steps need a shell start FROM it. A missing engine or busybox stops
// the test as Require does.
func BusyboxImage(t testing.TB) string {
	t.Helper()
	Docker(t)
	tag, err := cached("busybox-image", buildBusyboxImage)
	Require(t, "busybox base image (apt-get install busybox-static)", err)
	return tag
}

func buildBusyboxImage() (string, error) {
	bin, err := os.ReadFile(busyboxPath)
	if err != nil {
		return "", fmt.Errorf("%s: %w", busyboxPath, err)
	}
	if f, err := elf.NewFile(bytes.NewReader(bin)); err != nil {
		return "", fmt.Errorf("%s is not an ELF executable: %w", busyboxPath, err)
	} else if f.Section(".interp") != nil {
		return "", fmt.Errorf("%s is linked dynamically (Debian's busybox package); the image needs busybox-static", busyboxPath)
	}
	sum := sha256.Sum256(append(bin, busyboxDockerfile...))
	tag := "appstore-test/busybox:" + hex.EncodeToString(sum[:6])

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client, base, err := dockerHTTP()
	if err != nil {
		return "", err
	}
	// Built before (by this or another test run) on this engine.
	if resp, err := get(ctx, client, base+"/images/"+url.PathEscape(tag)+"/json"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return tag, nil
		}
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{"Dockerfile", 0o644, []byte(busyboxDockerfile)}, {"busybox", 0o755, bin}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: time.Unix(0, 0)}); err != nil {
			return "", err
		}
		if _, err := tw.Write(f.data); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	q := url.Values{"t": {tag}, "version": {"1"}, "rm": {"1"}, "forcerm": {"1"}, "networkmode": {"none"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/build?"+q.Encode(), &buf)
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-tar")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("build %s: %w", tag, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return "", fmt.Errorf("build %s: %s: %s", tag, resp.Status, body)
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var m struct{ Error string }
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return "", fmt.Errorf("build %s: %w", tag, err)
		}
		if m.Error != "" {
			return "", fmt.Errorf("build %s: %s", tag, m.Error)
		}
	}
	return tag, nil
}

func get(ctx context.Context, c *http.Client, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return c.Do(req)
}
