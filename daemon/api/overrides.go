package api

import (
	"slices"
	"strings"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/daemon/runner"
)

// checkProfile refuses a profile the runner does not know.
func checkProfile(p *string) error {
	if p == nil {
		return nil
	}
	var names []string
	for _, pr := range runner.Profiles {
		if pr.Name == *p {
			return nil
		}
		names = append(names, pr.Name)
	}
	return catalog.Invalid("profile", "%q is not a resource profile: give one of %s", *p, strings.Join(names, ", "))
}

// changedFields are the editable fields an update sets or resets.
func changedFields(req apitype.UpdateRepositoryRequest) []string {
	var out []string
	for f, set := range map[string]bool{"name": req.Name != nil, "description": req.Description != nil, "homepage": req.Homepage != nil,
		"branch": req.Branch != nil, "dockerfile": req.Dockerfile != nil, "context": req.Context != nil, "port": req.Port != nil, "profile": req.Profile != nil, "target": req.Target != nil} {
		if set {
			out = append(out, f)
		}
	}
	for _, f := range req.Reset {
		out = append(out, "reset "+strings.ToLower(strings.TrimSpace(f)))
	}
	slices.Sort(out)
	return out
}

// needsReingest says whether an update changes what ingestion reads: the
// branch, the Dockerfile, the context or the stage, or a reset of a field ingestion
// decides (port and profile apply at the next launch without one).
func needsReingest(req apitype.UpdateRepositoryRequest) bool {
	if req.Branch != nil || req.Dockerfile != nil || req.Context != nil || req.Target != nil {
		return true
	}
	for _, f := range req.Reset {
		if slices.Contains(catalog.ReingestFields, strings.ToLower(strings.TrimSpace(f))) {
			return true
		}
	}
	return false
}
