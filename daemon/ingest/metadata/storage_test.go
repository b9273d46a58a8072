package metadata

import (
	"strings"
	"testing"
)

func TestTagsFileStorage(t *testing.T) {
	for _, tc := range []struct {
		yaml       string
		path       string
		size       int64
		err, warns string
	}{
		{yaml: "storage: /data", path: "/data"},
		{yaml: "storage: /var/lib/app/", path: "/var/lib/app"},
		{yaml: "storage:\n  path: /data\n  size: 1g", path: "/data", size: 1 << 30},
		{yaml: "storage: {path: /srv/notes, size: 512MiB, mode: x}", path: "/srv/notes", size: 512 << 20, warns: `unknown field "mode"`},
		{yaml: "storage:", path: ""},
		{yaml: "storage: data", err: `tags.yaml:1: storage: "data" is not an absolute path`},
		{yaml: "storage: /", err: "cannot be the container's root"},
		{yaml: "storage: /etc/app", err: "/etc/app is a system directory"},
		{yaml: "storage: /tmp", err: "/tmp is a system directory"},
		{yaml: "storage: [/data]", err: "storage must be a directory (storage: /data) or a mapping"},
		{yaml: "storage:\n  size: 1g", err: "storage has no path"},
		{yaml: "storage:\n  path: /data\n  size: lots", err: `tags.yaml:3: storage size "lots" is not a positive size`},
		{yaml: "storage:\n  path: /data\n  size: 2t", err: "over the limit"},
	} {
		tf, warns, err := parseTagsFile(TagsFileName, []byte(tc.yaml))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.yaml, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.yaml, err)
			continue
		}
		switch {
		case tc.path == "" && tf.Storage != nil:
			t.Errorf("%q: storage %+v, want none", tc.yaml, tf.Storage)
		case tc.path != "" && (tf.Storage == nil || tf.Storage.Path != tc.path || tf.Storage.SizeBytes != tc.size):
			t.Errorf("%q: storage %+v, want %s of %d", tc.yaml, tf.Storage, tc.path, tc.size)
		}
		if got := strings.Join(warns, "\n"); tc.warns != "" && !strings.Contains(got, tc.warns) || tc.warns == "" && got != "" {
			t.Errorf("%q: warnings %q, want %q", tc.yaml, got, tc.warns)
		}
	}
}
