package runner

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/appstore-dev/appstore/catalog"
)

// Profile is a named set of resource limits for a launch's container.
type Profile struct {
	Name   string
	Memory int64   // bytes; swap is not allowed on top
	CPUs   float64 // fractions of a CPU (NanoCPUs)
	Pids   int64   // processes and threads
}

// Profiles are the resource profiles a launch can ask for.
var Profiles = []Profile{
	{Name: "small", Memory: 256 << 20, CPUs: 0.5, Pids: 128},
	{Name: "medium", Memory: 512 << 20, CPUs: 1, Pids: 256},
	{Name: "large", Memory: 1 << 30, CPUs: 2, Pids: 512},
}

// DefaultProfile is used when neither the request nor the repository names
// one.
const DefaultProfile = "small"

// Limits are the daemon-wide maxima (--max-memory, --max-cpus, --max-pids):
// no profile above them may be launched. Zero fields do not limit.
type Limits struct {
	Memory int64
	CPUs   float64
	Pids   int64
}

// Allows reports why p does not fit the limits, or nil.
func (l Limits) Allows(p Profile) error {
	var over []string
	if l.Memory > 0 && p.Memory > l.Memory {
		over = append(over, fmt.Sprintf("memory %s > --max-memory %s", catalog.FormatSize(p.Memory), catalog.FormatSize(l.Memory)))
	}
	if l.CPUs > 0 && p.CPUs > l.CPUs {
		over = append(over, fmt.Sprintf("%g CPUs > --max-cpus %g", p.CPUs, l.CPUs))
	}
	if l.Pids > 0 && p.Pids > l.Pids {
		over = append(over, fmt.Sprintf("%d pids > --max-pids %d", p.Pids, l.Pids))
	}
	if len(over) == 0 {
		return nil
	}
	return fmt.Errorf("profile %s needs %s", p.Name, strings.Join(over, ", "))
}

// ProfileNames lists the profiles that fit l.
func (l Limits) ProfileNames() []string {
	var names []string
	for _, p := range Profiles {
		if l.Allows(p) == nil {
			names = append(names, p.Name)
		}
	}
	return names
}

// resolveProfile picks the profile of a launch: the request's, else the
// repository's (tags.yaml resources:), else DefaultProfile; and checks it
// against the limits. A repository's profile that does not fit falls back
// to the largest one that does, since the repository cannot know this
// daemon's limits; a requested one that does not fit is an error.
func (l Limits) resolveProfile(requested, repository string) (Profile, error) {
	if requested != "" {
		p, ok := profileByName(requested)
		if !ok {
			return Profile{}, catalog.Invalid("profile", "unknown profile %q: want one of %s", requested, strings.Join(names(Profiles), ", "))
		}
		if err := l.Allows(p); err != nil {
			return Profile{}, catalog.Invalid("profile", "%v on this daemon; choose one of %s", err, strings.Join(l.ProfileNames(), ", "))
		}
		return p, nil
	}
	name := DefaultProfile
	if p, ok := profileByName(repository); ok {
		name = p.Name
	}
	p, _ := profileByName(name)
	if l.Allows(p) == nil {
		return p, nil
	}
	fitting := l.ProfileNames()
	if len(fitting) == 0 {
		return Profile{}, fmt.Errorf("no resource profile fits this daemon's limits (--max-memory, --max-cpus, --max-pids): raise them to at least %s, %g CPUs, %d pids",
			catalog.FormatSize(Profiles[0].Memory), Profiles[0].CPUs, Profiles[0].Pids)
	}
	p, _ = profileByName(fitting[len(fitting)-1])
	return p, nil
}

func profileByName(name string) (Profile, bool) {
	for _, p := range Profiles {
		if p.Name == strings.ToLower(strings.TrimSpace(name)) {
			return p, true
		}
	}
	return Profile{}, false
}

func names(ps []Profile) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}

var byteUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kb": 1000, "kib": 1 << 10,
	"m": 1 << 20, "mb": 1000 * 1000, "mib": 1 << 20,
	"g": 1 << 30, "gb": 1000 * 1000 * 1000, "gib": 1 << 30,
	"t": 1 << 40, "tb": 1000 * 1000 * 1000 * 1000, "tib": 1 << 40,
}

// ParseBytes parses a size such as "512MiB", "1g", "1.5GB" or "1048576".
func ParseBytes(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	mult, ok := byteUnits[unit]
	if !ok || num == "" {
		return 0, fmt.Errorf("size %q: want a number with an optional unit (B, KiB, MiB, GiB, TiB, or KB, MB, GB, TB), e.g. 512MiB", s)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 || f*float64(mult) > math.MaxInt64 {
		return 0, fmt.Errorf("size %q: want a non-negative number, e.g. 512MiB", s)
	}
	return int64(f * float64(mult)), nil
}
