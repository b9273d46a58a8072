package catalog

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// Storage is the persistent data an app declares (tags.yaml storage:): a
// directory of its container kept in a volume of its own, which outlives
// the container (sleep and wake, stop and launch, rebuilds).
type Storage struct {
	// Path is the absolute directory in the container, cleaned.
	Path string `json:"path"`
	// SizeBytes is the size the app declares it needs, 0 when it names
	// none. The engine's local volumes cannot enforce it: the runner
	// measures the volume, warns when a running app passes it and refuses
	// the next launch or wake (daemon/runner/storage.go).
	SizeBytes int64 `json:"size_bytes,omitempty"`
}

// MaxStorageSize bounds a declared storage size (1 TiB).
const MaxStorageSize = 1 << 40

// reservedStoragePaths are directories a volume may not cover: the
// container's system directories and the runner's own /tmp.
var reservedStoragePaths = []string{"/bin", "/dev", "/etc", "/lib", "/lib64", "/proc", "/sbin", "/sys", "/tmp", "/usr"}

// ValidateStoragePath checks and cleans a declared data directory: an
// absolute path below the root, not a system directory.
func ValidateStoragePath(p string) (string, error) {
	p = strings.TrimSpace(p)
	switch {
	case p == "":
		return "", Invalid("storage", "is empty: give the directory the app keeps its data in, e.g. /data")
	case len(p) > MaxPathLen:
		return "", Invalid("storage", "is longer than %d characters", MaxPathLen)
	case !strings.HasPrefix(p, "/"):
		return "", Invalid("storage", "%q is not an absolute path: give the directory in the container, e.g. /data", p)
	case strings.ContainsAny(p, ":,\x00\n\r\t"):
		return "", Invalid("storage", "%q contains a character a mount path cannot hold (: , or a control character)", p)
	}
	clean := path.Clean(p)
	if clean == "/" {
		return "", Invalid("storage", "cannot be the container's root: give a directory such as /data")
	}
	for _, r := range reservedStoragePaths {
		if clean == r || strings.HasPrefix(clean, r+"/") {
			return "", Invalid("storage", "%s is a system directory of the container; choose another, e.g. /data", clean)
		}
	}
	return clean, nil
}

// ParseSize reads a size such as 512m, 1g, 1GiB, 200MB or a number of
// bytes. Units are powers of 1024.
func ParseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" {
		return 0, fmt.Errorf("size is empty: give e.g. 512m or 1g")
	}
	t = strings.TrimSuffix(strings.TrimSuffix(t, "b"), "i")
	mult := int64(1)
	switch {
	case strings.HasSuffix(t, "k"):
		mult = 1 << 10
	case strings.HasSuffix(t, "m"):
		mult = 1 << 20
	case strings.HasSuffix(t, "g"):
		mult = 1 << 30
	case strings.HasSuffix(t, "t"):
		mult = 1 << 40
	}
	if mult > 1 {
		t = t[:len(t)-1]
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("size %q is not a positive size: give e.g. 512m or 1g", s)
	}
	v := n * float64(mult)
	if v > MaxStorageSize {
		return 0, fmt.Errorf("size %q is over the limit of 1t", s)
	}
	return int64(v), nil
}

// FormatSize prints a byte count in powers of 1024: "512 MiB", "1.5 GiB".
func FormatSize(n int64) string {
	units := []struct {
		name string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}}
	for _, u := range units {
		if n >= u.size {
			v := float64(n) / float64(u.size)
			if v == float64(int64(v)) {
				return fmt.Sprintf("%d %s", int64(v), u.name)
			}
			return fmt.Sprintf("%.1f %s", v, u.name)
		}
	}
	return fmt.Sprintf("%d B", n)
}
