package gitclone

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/appstore-dev/appstore/catalog/giturl"
)

// Kind classifies a clone failure by what the person who registered the
// repository can do about it.
type Kind string

const (
	KindInvalid        Kind = "invalid"          // the URL, branch or options are malformed
	KindPolicy         Kind = "policy"           // the URL policy refused the remote
	KindNotFound       Kind = "not_found"        // no repository at that URL
	KindAuthRequired   Kind = "auth_required"    // the remote wants credentials
	KindBranchNotFound Kind = "branch_not_found" // the declared branch does not exist
	KindEmpty          Kind = "empty"            // the repository has no commits
	KindMalformed      Kind = "malformed"        // its tree cannot be checked out safely
	KindTooLarge       Kind = "too_large"        // over the clone size limit
	KindTimeout        Kind = "timeout"          // over the clone time limit
	KindNetwork        Kind = "network"          // the remote could not be reached or broke off
	KindCanceled       Kind = "canceled"         // the caller gave up (shutdown)
	KindFailed         Kind = "failed"           // anything else
)

// Error is a classified clone failure. Error() is a sentence for the
// person who registered the repository: what happened and what to do.
type Error struct {
	Kind    Kind
	URL     string // the clone URL, without credentials
	Message string
	Err     error // the underlying error
}

func (e *Error) Error() string { return e.Message }

func (e *Error) Unwrap() error { return e.Err }

// IsPermanent reports whether retrying err cannot help until someone
// changes the URL, the branch, the repository or appstored's limits: not
// found, credentials wanted, branch missing, empty, too large, refused by
// policy, invalid. Timeouts, network failures and unknown errors are
// transient and worth a retry with backoff.
func IsPermanent(err error) bool {
	var ce *Error
	if !errors.As(err, &ce) {
		var pe *giturl.PolicyError
		if errors.As(err, &pe) {
			return !pe.Temporary()
		}
		return false
	}
	switch ce.Kind {
	case KindInvalid, KindNotFound, KindAuthRequired, KindBranchNotFound, KindEmpty, KindTooLarge, KindMalformed:
		return true
	case KindPolicy:
		var pe *giturl.PolicyError
		return !(errors.As(ce.Err, &pe) && pe.Temporary())
	}
	return false
}

// KindOf returns the Kind of err, KindFailed if it is not classified.
func KindOf(err error) Kind {
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Kind
	}
	return KindFailed
}

// errTooLarge is what the size guards return while a clone is running;
// classify turns it into a KindTooLarge *Error.
type errTooLarge struct {
	limit int64
	what  string // "transfer" or "checked-out tree"
}

func (e *errTooLarge) Error() string {
	return fmt.Sprintf("repository %s exceeds %d bytes", e.what, e.limit)
}

// errMalformed marks a tree that cannot be checked out safely: a name git
// refuses (".git", ".."), a duplicate entry, an unknown mode.
type errMalformed struct{ err error }

func (e *errMalformed) Error() string { return e.err.Error() }
func (e *errMalformed) Unwrap() error { return e.err }

func malformed(format string, args ...any) error {
	return &errMalformed{fmt.Errorf(format, args...)}
}

// classify turns an error from go-git or the network into an *Error.
// ctx is the clone's own context (with its time limit), parent the
// caller's, so a caller's cancellation is told apart from our timeout.
func classify(err error, parent, ctx context.Context, cloneURL, branch string, timeout string, limit int64) *Error {
	var ce *Error
	if errors.As(err, &ce) {
		return ce
	}
	e := &Error{URL: cloneURL, Err: err}
	var pe *giturl.PolicyError
	var tl *errTooLarge
	var httpErr *githttp.Err
	var bad *errMalformed
	switch {
	case errors.As(err, &pe):
		e.Kind, e.Message = KindPolicy, pe.Reason
		if strings.Contains(err.Error(), "redirect") {
			e.Message = fmt.Sprintf("%s redirected to a host that is refused: %s", cloneURL, pe.Reason)
		}
	case errors.As(err, &tl):
		e.Kind = KindTooLarge
		e.Message = fmt.Sprintf("repository %s is larger than the %s clone limit (its %s passed it); raise --max-clone-size or slim the repository", cloneURL, formatBytes(limit), tl.what)
	case errors.As(err, &bad):
		e.Kind = KindMalformed
		e.Message = fmt.Sprintf("repository %s cannot be checked out safely: %v; git refuses such trees too, so fix the repository", cloneURL, bad.err)
	case parent.Err() != nil:
		e.Kind = KindCanceled
		e.Message = fmt.Sprintf("clone of %s was canceled: %v", cloneURL, context.Cause(parent))
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		e.Kind = KindTimeout
		e.Message = fmt.Sprintf("%s did not answer within %s: the remote is slow or stalled (if it is only slow, raise --clone-timeout)", cloneURL, timeout)
	case errors.Is(err, transport.ErrRepositoryNotFound):
		e.Kind = KindNotFound
		e.Message = fmt.Sprintf("no Git repository at %s: check the URL", cloneURL)
	case sshAuthFailure(err):
		e.Kind = KindAuthRequired
		e.Message = fmt.Sprintf("%s needs SSH credentials appstored does not have (%v): register the repository's https:// URL, or run appstored with an SSH agent whose key the remote accepts and the remote's host key in known_hosts", cloneURL, rootCause(err))
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed):
		// GitHub and others answer 401 for private and missing repositories alike.
		e.Kind = KindAuthRequired
		e.Message = fmt.Sprintf("%s asks for credentials: the repository is private or does not exist; appstore clones public repositories, so check the URL or make the repository public", cloneURL)
	case errors.Is(err, git.NoMatchingRefSpecError{}), errors.Is(err, plumbing.ErrReferenceNotFound):
		e.Kind = KindBranchNotFound
		if branch == "" {
			e.Message = fmt.Sprintf("%s has no default branch (HEAD points nowhere): name a branch", cloneURL)
		} else {
			e.Message = fmt.Sprintf("branch %q does not exist in %s: check the branch name or leave it empty for the default branch", branch, cloneURL)
		}
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		e.Kind = KindEmpty
		e.Message = fmt.Sprintf("repository %s is empty: push a commit with a Dockerfile first", cloneURL)
	case errors.As(err, &httpErr):
		switch code := httpErr.StatusCode(); {
		case code == 404 || code == 410:
			e.Kind, e.Message = KindNotFound, fmt.Sprintf("no Git repository at %s (HTTP %d): check the URL", cloneURL, code)
		case code == 401 || code == 403:
			e.Kind, e.Message = KindAuthRequired, fmt.Sprintf("%s refused access (HTTP %d): the repository is private; appstore clones public repositories", cloneURL, code)
		case code >= 500 || code == 429 || code == 408:
			e.Kind, e.Message = KindNetwork, fmt.Sprintf("%s answered HTTP %d: the server is failing or busy", cloneURL, code)
		default:
			e.Kind, e.Message = KindFailed, fmt.Sprintf("%s answered HTTP %d: is it a Git smart-HTTP URL?", cloneURL, code)
		}
	case isNetwork(err):
		e.Kind = KindNetwork
		e.Message = fmt.Sprintf("could not reach %s: %v", cloneURL, rootCause(err))
	default:
		e.Kind = KindFailed
		e.Message = fmt.Sprintf("clone of %s failed: %v", cloneURL, err)
	}
	return e
}

// sshAuthFailure recognises go-git's ssh client failing for want of
// credentials: no agent, no accepted key, an unknown host key. go-git
// reports these as plain strings.
func sshAuthFailure(err error) bool {
	msg := err.Error()
	for _, s := range []string{"SSH_AUTH_SOCK", "SSH agent", "ssh: unable to authenticate", "knownhosts", "ssh: handshake failed"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isNetwork(err error) bool {
	var opErr *net.OpError
	var dnsErr *net.DNSError
	var urlErr *url.Error
	return errors.As(err, &opErr) || errors.As(err, &dnsErr) || errors.As(err, &urlErr) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
