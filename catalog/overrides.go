package catalog

import (
	"slices"
	"strings"
)

// PortFromManual is the source of a port the user set (appstore edit
// --port): it wins over everything ingestion finds.
const PortFromManual = "manual"

// EditableFields are the repository fields a user may set by hand
// (PATCH, appstore edit) and reset to what ingestion finds.
var EditableFields = []string{"name", "description", "homepage", "branch", "dockerfile", "context", "target", "port", "profile"}

// ReingestFields are the editable fields whose change or reset only takes
// effect through a new ingestion (they steer the clone, the card or the
// build); port and profile apply at the next launch.
var ReingestFields = []string{"name", "description", "homepage", "branch", "dockerfile", "context", "target"}

// CheckResetFields checks the fields of a reset and returns them
// deduplicated, in EditableFields' order.
func CheckResetFields(fields []string) ([]string, error) {
	var out []string
	for _, f := range fields {
		f = strings.ToLower(strings.TrimSpace(f))
		if !slices.Contains(EditableFields, f) {
			return nil, Invalid("reset", "%q is not a field that can be reset: give one of %s", f, strings.Join(EditableFields, ", "))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	SortFields(out)
	return out, nil
}

// SortFields sorts field names in EditableFields' order (others last).
func SortFields(fields []string) {
	rank := func(f string) int {
		if i := slices.Index(EditableFields, f); i >= 0 {
			return i
		}
		return len(EditableFields)
	}
	slices.SortStableFunc(fields, func(a, b string) int { return rank(a) - rank(b) })
}

// ValidatePort checks a port given by a user.
func ValidatePort(p int) error {
	if p < 1 || p > 65535 {
		return Invalid("port", "%d is not a TCP port: give a number from 1 to 65535", p)
	}
	return nil
}

// ValidateProfileName checks the shape of a resource profile's name (the
// runner knows which exist).
func ValidateProfileName(name string) error {
	if name == "" || len(name) > 32 {
		return Invalid("profile", "give a profile name such as small, medium or large")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return Invalid("profile", "%q is not a profile name: lower-case letters, digits and dashes, such as medium", name)
		}
	}
	return nil
}

// CheckBuildTarget checks a stage name given by a user (appstore edit
// --target).
func CheckBuildTarget(s string) error {
	if !ValidBuildTarget(s) {
		return Invalid("target", "%q is not a stage name: give the name of a FROM … AS <name> of the Dockerfile, e.g. app", s)
	}
	return nil
}

// CleanContextPath checks a build context given by a user: a relative
// directory of the repository ("." is its root).
func CleanContextPath(p string) (string, error) {
	p = strings.TrimSpace(p)
	if p == "" || p == "." || p == "./" {
		return ".", nil
	}
	if err := ValidateRelPath("context", p); err != nil {
		return "", err
	}
	return strings.TrimSuffix(strings.TrimPrefix(p, "./"), "/"), nil
}

// manualFieldNames are the names the store keeps in manual_fields for the
// fields whose column is a request (requested_*).
var manualFieldNames = map[string]string{
	"requested_dockerfile": "dockerfile", "requested_context": "context", "requested_target": "target",
	"requested_port": "port", "requested_profile": "profile",
}

// ManualFieldName is the field a manual_fields entry names.
func ManualFieldName(stored string) string {
	if n, ok := manualFieldNames[stored]; ok {
		return n
	}
	return stored
}

// StoredManualField is the manual_fields entry of a field.
func StoredManualField(field string) string {
	for k, v := range manualFieldNames {
		if v == field {
			return k
		}
	}
	return field
}
