package gitclone

import (
	"context"
	"slices"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/appstore-dev/appstore/catalog/giturl"
)

// RemoteHeadTimeout bounds RemoteHead when ctx has no deadline.
const RemoteHeadTimeout = time.Minute

// RemoteHead asks the remote for the commit at the tip of branch (the
// remote's HEAD when branch is empty), without fetching objects: what
// `git ls-remote` does. Periodic sync compares it with the last ingested
// commit. It returns the resolved branch name as well.
func RemoteHead(ctx context.Context, url, branch string, policy giturl.Policy) (sha, resolved string, err error) {
	parent := ctx
	limit := RemoteHeadTimeout.String()
	if d, ok := ctx.Deadline(); ok {
		limit = time.Until(d).Round(time.Millisecond).String()
	} else {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, RemoteHeadTimeout)
		defer cancel()
	}
	u, listURL, ref, err := prepare(ctx, url, branch, policy)
	if err != nil {
		return "", "", classify(err, parent, ctx, redactedURL(url), branch, limit, 0)
	}
	state := newCallState(policy)
	defer state.close()
	ctx = withState(ctx, state)

	remote := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{listURL}})
	refs, err := remote.ListContext(ctx, &git.ListOptions{})
	if err != nil {
		return "", "", classify(err, parent, ctx, u.CloneURL(), branch, limit, 0)
	}
	byName := make(map[plumbing.ReferenceName]*plumbing.Reference, len(refs))
	for _, r := range refs {
		byName[r.Name()] = r
	}
	target := ref
	if ref == plumbing.HEAD {
		head, ok := byName[plumbing.HEAD]
		switch {
		case !ok:
			return "", "", classify(plumbing.ErrReferenceNotFound, parent, ctx, u.CloneURL(), "", "", 0)
		case head.Type() == plumbing.SymbolicReference:
			target = head.Target()
		default:
			// A server without the symref capability: HEAD is a bare
			// hash, so name the branch that points at it.
			return head.Hash().String(), branchAt(refs, head.Hash()), nil
		}
	}
	r, ok := byName[target]
	if !ok || r.Type() != plumbing.HashReference {
		return "", "", classify(plumbing.ErrReferenceNotFound, parent, ctx, u.CloneURL(), branch, "", 0)
	}
	return r.Hash().String(), target.Short(), nil
}

// branchAt names the branch at hash, preferring main and master.
func branchAt(refs []*plumbing.Reference, hash plumbing.Hash) string {
	var found []string
	for _, r := range refs {
		if r.Name().IsBranch() && r.Type() == plumbing.HashReference && r.Hash() == hash {
			found = append(found, r.Name().Short())
		}
	}
	for _, pref := range []string{"main", "master"} {
		if slices.Contains(found, pref) {
			return pref
		}
	}
	if len(found) == 0 {
		return ""
	}
	slices.Sort(found)
	return found[0]
}
