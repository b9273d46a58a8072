package catalog

import (
	"regexp"
	"sort"
	"strings"
)

// Bounds of a build's arguments (a compose service's build.args).
const (
	MaxBuildArgs        = 32
	MaxBuildArgValueLen = 1024
)

var (
	buildTargetRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)
	buildArgKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
)

// ValidBuildTarget reports whether s can name a stage of a Dockerfile
// (FROM … AS <name>).
func ValidBuildTarget(s string) bool { return buildTargetRE.MatchString(s) }

// ValidBuildArgKey reports whether s can name a build argument (ARG <name>).
func ValidBuildArgKey(s string) bool { return buildArgKeyRE.MatchString(s) }

// CleanBuildArgs keeps the build arguments a build may be given: names an
// ARG can declare, values without NUL and at most MaxBuildArgValueLen
// bytes, at most MaxBuildArgs of them (by name). It returns the names it
// dropped; nil for an empty result.
func CleanBuildArgs(args map[string]string) (map[string]string, []string) {
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out map[string]string
	var dropped []string
	for _, k := range keys {
		v := args[k]
		if !ValidBuildArgKey(k) || len(v) > MaxBuildArgValueLen || strings.IndexByte(v, 0) >= 0 || len(out) >= MaxBuildArgs {
			dropped = append(dropped, k)
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = v
	}
	return out, dropped
}
