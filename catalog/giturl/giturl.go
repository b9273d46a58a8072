// Package giturl parses and normalises Git remote URLs. It is pure so that the
// CLI can resolve local paths before sending them, and the daemon can decide
// whether two URLs name the same repository.
package giturl

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"strings"
	"unicode"

	"github.com/appstore-dev/appstore/internal/textutil"
)

// MaxLen bounds the length of a Git URL.
const MaxLen = 2048

// URL is a parsed Git remote.
type URL struct {
	// Scheme is one of https, http, ssh, git or file. scp-like URLs
	// (git@host:owner/repo.git) are ssh.
	Scheme string
	User   string
	Host   string // lower-case host name or IP, without port and brackets
	Port   string
	// Path is the repository path: for network schemes without the leading
	// slash ("owner/repo.git"), for file an absolute, cleaned path.
	Path string
	// SCP is set when the input was scp-like; CloneURL keeps that form.
	SCP bool
}

// Parse parses a Git remote URL, scp-like address or absolute local path.
// It refuses what can never be a remote: empty input, control characters,
// leading dashes (argument injection), unknown schemes, credentials in
// https URLs.
func Parse(raw string) (*URL, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return nil, fmt.Errorf("git URL is empty: give an https://, ssh://, git:// or scp-like (git@host:owner/repo.git) URL")
	}
	if len(s) > MaxLen {
		return nil, fmt.Errorf("git URL is longer than %d characters", MaxLen)
	}
	if strings.HasPrefix(s, "-") {
		return nil, fmt.Errorf("git URL %q starts with '-': that would be read as an option, give a URL", textutil.Truncate(s, 120))
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return nil, fmt.Errorf("git URL %q contains a space or control character", textutil.Truncate(s, 120))
		}
	}
	u, err := parseForm(s)
	if err != nil {
		return nil, err
	}
	// The stored form must parse again: a local path becomes file://…,
	// seven bytes longer (found by FuzzParsePolicy).
	if len(u.CloneURL()) > MaxLen {
		return nil, fmt.Errorf("git URL is longer than %d characters once written as %s://…", MaxLen, u.Scheme)
	}
	return u, nil
}

// parseForm parses s according to its form: a local path, file://, a URL
// with a scheme, or an scp-like address.
func parseForm(s string) (*URL, error) {
	switch {
	case strings.HasPrefix(s, "/"):
		return parseFile("file://" + s)
	case strings.HasPrefix(strings.ToLower(s), "file://"):
		return parseFile(s)
	case strings.Contains(s, "://"):
		return parseStandard(s)
	}
	if u, ok := parseSCP(s); ok {
		return u, nil
	}
	return nil, fmt.Errorf("git URL %q is not a URL: give https://host/owner/repo.git, ssh://…, git://…, git@host:owner/repo.git, or an absolute path", textutil.Truncate(s, 120))
}

func parseStandard(s string) (*URL, error) {
	pu, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("git URL %q: %w", textutil.Truncate(s, 120), err)
	}
	scheme := strings.ToLower(pu.Scheme)
	switch scheme {
	case "https", "http", "ssh", "git":
	case "git+ssh", "ssh+git":
		scheme = "ssh"
	default:
		return nil, fmt.Errorf("git URL %q: scheme %q is not supported; use https, ssh or git", textutil.Truncate(s, 120), pu.Scheme)
	}
	if pu.Opaque != "" {
		return nil, fmt.Errorf("git URL %q: want %s://host/path", textutil.Truncate(s, 120), scheme)
	}
	u := &URL{Scheme: scheme, Host: strings.ToLower(pu.Hostname()), Port: pu.Port()}
	if pu.User != nil {
		if _, hasPass := pu.User.Password(); hasPass {
			return nil, fmt.Errorf("git URL %q carries a password: register the URL without credentials", redact(pu))
		}
		u.User = pu.User.Username()
		if scheme == "https" || scheme == "http" {
			return nil, fmt.Errorf("git URL %q carries credentials: register the URL without them", redact(pu))
		}
	}
	if err := checkHost(u.Host, s); err != nil {
		return nil, err
	}
	if pu.RawQuery != "" || pu.Fragment != "" {
		return nil, fmt.Errorf("git URL %q has a query or fragment; remove it", textutil.Truncate(s, 120))
	}
	p := strings.Trim(path.Clean("/"+pu.Path), "/")
	if p == "" || p == "." {
		return nil, fmt.Errorf("git URL %q has no repository path", textutil.Truncate(s, 120))
	}
	if strings.HasPrefix(p, "-") {
		return nil, fmt.Errorf("git URL %q: path starts with '-'", textutil.Truncate(s, 120))
	}
	// Percent-encoding must not smuggle in what Parse refuses in plain
	// text: the decoded path is what git sees, and CloneURL writes it
	// unescaped.
	if strings.IndexFunc(p, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0 {
		return nil, fmt.Errorf("git URL %q: path contains an encoded space or control character", textutil.Truncate(s, 120))
	}
	u.Path = p
	return u, nil
}

func parseSCP(s string) (*URL, bool) {
	// [user@]host:path, where host has no slash before the colon.
	colon := strings.Index(s, ":")
	if colon <= 0 {
		return nil, false
	}
	if slash := strings.Index(s, "/"); slash >= 0 && slash < colon {
		return nil, false
	}
	hostPart, p := s[:colon], s[colon+1:]
	u := &URL{Scheme: "ssh", SCP: true}
	if at := strings.LastIndex(hostPart, "@"); at >= 0 {
		u.User, hostPart = hostPart[:at], hostPart[at+1:]
	}
	u.Host = strings.ToLower(strings.Trim(hostPart, "[]"))
	if checkHost(u.Host, s) != nil {
		return nil, false
	}
	p = strings.Trim(path.Clean("/"+p), "/")
	if p == "" || p == "." || strings.HasPrefix(p, "-") {
		return nil, false
	}
	u.Path = p
	return u, true
}

func parseFile(s string) (*URL, error) {
	p := s[len("file://"):]
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("git URL %q: file URLs need an absolute path (file:///path/to/repo)", textutil.Truncate(s, 120))
	}
	p = path.Clean(p)
	if p == "/" {
		return nil, fmt.Errorf("git URL %q: no repository path", textutil.Truncate(s, 120))
	}
	return &URL{Scheme: "file", Path: p}, nil
}

func checkHost(host, raw string) error {
	if host == "" {
		return fmt.Errorf("git URL %q has no host: give one, e.g. https://github.com/owner/repo.git or git@github.com:owner/repo.git", textutil.Truncate(raw, 120))
	}
	if strings.HasPrefix(host, "-") {
		return fmt.Errorf("git URL %q: host starts with '-'", textutil.Truncate(raw, 120))
	}
	if net.ParseIP(host) != nil {
		return nil
	}
	for _, r := range host {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return fmt.Errorf("git URL %q: host %q contains %q", textutil.Truncate(raw, 120), host, r)
		}
	}
	return nil
}

// Key is the normalised identity of the repository: two URLs with the same
// Key are one repository. It drops the scheme, user, default ports, a
// trailing ".git" and case (for network hosts and paths).
func (u *URL) Key() string {
	if u.Scheme == "file" {
		return "file://" + strings.TrimSuffix(u.Path, ".git")
	}
	host := u.Host
	if u.Port != "" && !defaultPort(u.Scheme, u.Port) {
		host = net.JoinHostPort(u.Host, u.Port)
	}
	p := strings.TrimSuffix(strings.ToLower(u.Path), ".git")
	p = strings.TrimSuffix(p, "/")
	return host + "/" + p
}

func defaultPort(scheme, port string) bool {
	switch scheme {
	case "https":
		return port == "443"
	case "http":
		return port == "80"
	case "ssh":
		return port == "22"
	case "git":
		return port == "9418"
	}
	return false
}

// CloneURL is the cleaned URL to clone from.
func (u *URL) CloneURL() string {
	switch {
	case u.Scheme == "file":
		return "file://" + u.Path
	case u.SCP:
		h := u.Host
		if strings.Contains(h, ":") {
			h = "[" + h + "]"
		}
		if u.User != "" {
			return u.User + "@" + h + ":" + u.Path
		}
		return h + ":" + u.Path
	}
	host := u.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if u.Port != "" {
		host += ":" + u.Port
	}
	if u.User != "" {
		host = u.User + "@" + host
	}
	return u.Scheme + "://" + host + "/" + u.Path
}

// Name is the repository's name: the last path element without ".git".
func (u *URL) Name() string {
	return strings.TrimSuffix(path.Base(u.Path), ".git")
}

// Owner is the path element before the name, if any ("acme" for
// github.com/acme/dash).
func (u *URL) Owner() string {
	dir := path.Dir(u.Path)
	if u.Scheme == "file" || dir == "." || dir == "/" {
		return ""
	}
	return path.Base(dir)
}

// IsLocal reports whether the URL reads the daemon's own file system.
func (u *URL) IsLocal() bool { return u.Scheme == "file" }

// Normalize returns the Key of raw.
func Normalize(raw string) (string, error) {
	u, err := Parse(raw)
	if err != nil {
		return "", err
	}
	return u.Key(), nil
}

func redact(pu *url.URL) string {
	c := *pu
	c.User = url.User("REDACTED")
	return textutil.Truncate(c.String(), 120)
}
