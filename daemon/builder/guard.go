package builder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/distribution/reference"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/command"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	gateway "github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	"google.golang.org/protobuf/proto"
)

// guard stands between the in-process Dockerfile frontend and the engine.
// Every LLB definition the frontend sends, and every image it asks the
// engine to resolve, passes through it, after BuildKit expanded the
// Dockerfile (ARG and ENV, ONBUILD triggers of the Dockerfile's stages and
// of base images): what it checks is what the engine would run.
//
//   - ADD <url> is refused unless --build-allow-remote-add; then a URL
//     written out in the Dockerfile whose host passes the policy is fetched
//     by appstored (every connection and redirect checked at connect time)
//     and handed to the engine as a local source, so the engine never
//     fetches anything from its host's network. ADD <git remote> is
//     refused.
//   - Base images from registries on loopback, link-local or (unless the
//     policy admits them) private addresses are refused before the engine
//     contacts them.
//   - Cache mounts get a prefix of the catalog and the repository, so one
//     app's build never reads or writes another's cache.
//   - Secret and SSH mounts, host networking, privileged steps and other
//     frontends are refused with a sentence saying so.
type guard struct {
	policy      fetchPolicy
	allowRemote bool
	literal     map[string]bool // URLs written out in the Dockerfile
	dockerfile  string          // the Dockerfile's path, for messages
	dfName      string          // its name in BuildKit's source map
	cacheNS     string
	dirs        *dirSource
	fetchDir    string
	maxBytes    int64
	engine      Engine
	say         func(string, ...any)
	sessionID   string
	// slug and secrets are the app's and the names of its secrets, which
	// RUN --mount=type=secret may ask for.
	slug    string
	secrets map[string][]byte

	mu      sync.Mutex
	lines   map[string]int    // op digest → its Dockerfile line
	fetched map[string]string // URL → session directory of its download
	n       int
	refusal error // the first refusal, which the build's error reports
}

// buildFunc runs inner (the Dockerfile frontend) against the guarded
// gateway client.
func (g *guard) buildFunc(inner gateway.BuildFunc) gateway.BuildFunc {
	return func(ctx context.Context, c gateway.Client) (*gateway.Result, error) {
		return inner(ctx, &guardedClient{Client: c, g: g})
	}
}

// refuse records the first refusal and returns it.
func (g *guard) refuse(format string, args ...any) error {
	err := &contextError{msg: fmt.Sprintf(format, args...)}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.refusal == nil {
		g.refusal = err
	}
	return err
}

type guardedClient struct {
	gateway.Client
	g *guard
}

func (c *guardedClient) Solve(ctx context.Context, req gateway.SolveRequest) (*gateway.Result, error) {
	if req.Frontend != "" {
		return nil, c.g.refuse("the build asked BuildKit to run the frontend %s; appstore builds run only the Dockerfile frontend built into appstored", req.Frontend)
	}
	if req.Definition != nil {
		def, err := c.g.rewrite(ctx, req.Definition)
		if err != nil {
			return nil, err
		}
		req.Definition = def
	}
	return c.Client.Solve(ctx, req)
}

func (c *guardedClient) ResolveImageConfig(ctx context.Context, ref string, opt sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	if err := c.g.checkImage(ctx, ref, "FROM "+ref); err != nil {
		return "", "", nil, err
	}
	return c.Client.ResolveImageConfig(ctx, ref, opt)
}

func (c *guardedClient) ResolveSourceMetadata(ctx context.Context, op *pb.SourceOp, opt sourceresolver.Opt) (*sourceresolver.MetaResponse, error) {
	if ref, ok := strings.CutPrefix(op.Identifier, "docker-image://"); ok {
		if err := c.g.checkImage(ctx, ref, ref); err != nil {
			return nil, err
		}
		return c.Client.ResolveSourceMetadata(ctx, op, opt)
	}
	return nil, c.g.refuse("%s: the build asked the engine to look up %s; appstore builds only look up images", c.g.dockerfile, op.Identifier)
}

func (c *guardedClient) NewContainer(context.Context, gateway.NewContainerRequest) (gateway.Container, error) {
	return nil, c.g.refuse("the build asked BuildKit for an interactive container; appstore builds do not run them")
}

// checkImage refuses an image whose registry the engine must not contact.
// An image the engine has needs no registry.
func (g *guard) checkImage(ctx context.Context, ref, what string) error {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return nil // the engine says what is wrong with it
	}
	domain := reference.Domain(named)
	if domain == "docker.io" {
		return nil
	}
	if _, err := g.engine.ImageInspect(ctx, ref); err == nil {
		return nil
	}
	host := domain
	if h, _, ok := strings.Cut(strings.TrimPrefix(domain, "["), "]"); ok && strings.HasPrefix(domain, "[") {
		host = h
	} else if i := strings.LastIndexByte(domain, ':'); i >= 0 {
		host = domain[:i]
	}
	if why := g.policy.hostProblem(ctx, host); why != "" {
		return g.refuse("%s: %s: the registry %s: %s, and the engine would contact it from its own host's network; refused. Use an image from a public registry, or load the image into the engine (docker load) so that builds find it there",
			g.dockerfile, what, domain, why)
	}
	return nil
}

// rewrite checks a definition and returns it with cache mounts
// namespaced and admitted remote sources replaced by local ones.
func (g *guard) rewrite(ctx context.Context, def *pb.Definition) (*pb.Definition, error) {
	n := len(def.Def)
	ops := make([]*pb.Op, n)
	dgsts := make([]string, n)
	index := make(map[string]int, n)
	consumers := map[string][]string{}
	for i, dt := range def.Def {
		var op pb.Op
		if err := proto.Unmarshal(dt, &op); err != nil {
			return nil, fmt.Errorf("read the build's LLB: %w", err)
		}
		ops[i], dgsts[i] = &op, digest.FromBytes(dt).String()
		index[dgsts[i]] = i
		for _, in := range op.Inputs {
			consumers[in.Digest] = append(consumers[in.Digest], dgsts[i])
		}
	}
	changed := make([]bool, n)
	for i, op := range ops {
		switch o := op.Op.(type) {
		case *pb.Op_Source:
			src, err := g.source(ctx, o.Source, def, dgsts[i], consumers)
			if err != nil {
				return nil, err
			}
			if src != nil {
				o.Source, changed[i] = src, true
			}
		case *pb.Op_Exec:
			c, err := g.exec(o.Exec, def, dgsts[i])
			if err != nil {
				return nil, err
			}
			changed[i] = c
		case *pb.Op_Build:
			return nil, g.refuse("%s: the build asked BuildKit for a nested build; appstore builds do not run them", g.dockerfile)
		}
	}
	if !slicesContains(changed, true) {
		g.recordLines(def)
		return def, nil
	}

	// Marshal again, inputs first: an op whose input changed changes too.
	newDigest := map[string]string{}
	out := make([][]byte, n)
	var visit func(i int) error
	done := make([]bool, n)
	visit = func(i int) error {
		if done[i] {
			return nil
		}
		done[i] = true
		op := ops[i]
		for _, in := range op.Inputs {
			j, ok := index[in.Digest]
			if !ok {
				continue
			}
			if err := visit(j); err != nil {
				return err
			}
			if nd, ok := newDigest[in.Digest]; ok && nd != in.Digest {
				in.Digest = nd
				changed[i] = true
			}
		}
		if !changed[i] {
			out[i] = def.Def[i]
			newDigest[dgsts[i]] = dgsts[i]
			return nil
		}
		dt, err := proto.MarshalOptions{Deterministic: true}.Marshal(op)
		if err != nil {
			return fmt.Errorf("write the build's LLB: %w", err)
		}
		out[i] = dt
		newDigest[dgsts[i]] = digest.FromBytes(dt).String()
		return nil
	}
	for i := range ops {
		if err := visit(i); err != nil {
			return nil, err
		}
	}
	nd := &pb.Definition{Def: out, Metadata: map[string]*pb.OpMetadata{}}
	for k, v := range def.Metadata {
		if d, ok := newDigest[k]; ok {
			k = d
		}
		nd.Metadata[k] = v
	}
	if def.Source != nil {
		nd.Source = &pb.Source{Infos: def.Source.Infos, Locations: map[string]*pb.Locations{}}
		for k, v := range def.Source.Locations {
			if d, ok := newDigest[k]; ok {
				k = d
			}
			nd.Source.Locations[k] = v
		}
	}
	g.recordLines(nd)
	return nd, nil
}

// recordLines remembers the Dockerfile line of every op of def, so that a
// failing step (known by its digest) is named with its line.
func (g *guard) recordLines(def *pb.Definition) {
	if def.Source == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.lines == nil {
		g.lines = map[string]int{}
	}
	for d, locs := range def.Source.Locations {
		for _, l := range locs.Locations {
			if int(l.SourceIndex) < len(def.Source.Infos) && def.Source.Infos[l.SourceIndex].Filename == g.dfName && len(l.Ranges) > 0 && l.Ranges[0].Start != nil {
				g.lines[d] = int(l.Ranges[0].Start.Line)
				break
			}
		}
	}
}

// line is the Dockerfile line of op dgst, or 0.
func (g *guard) line(dgst string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lines[dgst]
}

func slicesContains(s []bool, v bool) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// source checks one source op; it returns a replacement, or nil to keep it.
func (g *guard) source(ctx context.Context, src *pb.SourceOp, def *pb.Definition, dgst string, consumers map[string][]string) (*pb.SourceOp, error) {
	id := src.Identifier
	scheme, rest, _ := strings.Cut(id, "://")
	switch scheme {
	case "docker-image":
		return nil, g.checkImage(ctx, rest, g.instruction(def, dgst, consumers, "image "+rest))
	case "local":
		if src.Attrs[pb.AttrLocalSessionID] != g.sessionID || !g.dirs.has(rest) {
			return nil, g.refuse("%s: the build asked for a directory %q of this host that appstored does not serve", g.dockerfile, rest)
		}
		return nil, nil
	case "http", "https":
		where := g.instruction(def, dgst, consumers, "ADD "+id)
		if !g.allowRemote {
			return nil, g.refuse("%s: remote sources are off (--build-allow-remote-add): appstore does not fetch %s for the build. Download it in a RUN step instead (RUN wget -O /dest %s, or curl), which runs on the build network",
				where, id, id)
		}
		u, err := url.Parse(id)
		if err != nil {
			return nil, g.refuse("%s: %s is not a URL: %v", where, id, err)
		}
		if why := g.policy.problem(ctx, u.Hostname(), urlPort(u)); why != "" {
			return nil, g.refuse("%s: %s, and appstore does not fetch from this host's network; refused. Serve the file from a public address, or download it in a RUN step", where, why)
		}
		if !g.literal[id] {
			return nil, g.refuse("%s: %s is built from build arguments or environment variables, or comes from an ONBUILD trigger of a base image; --build-allow-remote-add admits only URLs written out in the Dockerfile",
				where, id)
		}
		return g.fetchSource(ctx, src, where)
	case "git":
		return nil, g.refuse("%s: appstore builds do not fetch Git remotes (ADD %s); clone it in a RUN step with git instead, which runs on the build network",
			g.instruction(def, dgst, consumers, "ADD"), gitDisplay(src))
	default:
		return nil, g.refuse("%s: the build asked for the source %s, which appstore builds do not fetch", g.instruction(def, dgst, consumers, id), id)
	}
}

func gitDisplay(src *pb.SourceOp) string {
	if u := src.Attrs["git.fullurl"]; u != "" {
		return u
	}
	return src.Identifier
}

// exec checks a RUN step and namespaces its cache mounts; it reports
// whether it changed the op.
func (g *guard) exec(e *pb.ExecOp, def *pb.Definition, dgst string) (bool, error) {
	what := func() string { return g.instruction(def, dgst, nil, "RUN") }
	if e.Network == pb.NetMode_HOST {
		return false, g.refuse("%s: RUN --network=host is refused: build steps never share this host's network", what())
	}
	if e.Security == pb.SecurityMode_INSECURE {
		return false, g.refuse("%s: RUN --security=insecure is refused: build steps never run privileged", what())
	}
	changed := false
	for _, m := range e.Mounts {
		switch m.MountType {
		case pb.MountType_SECRET:
			if m.SecretOpt != nil {
				if err := g.secret(m.SecretOpt.ID, m.SecretOpt.Optional, what); err != nil {
					return false, err
				}
			}
		case pb.MountType_SSH:
			return false, g.refuse("%s: RUN --mount=type=ssh: builds have no SSH agent to forward; fetch what the step needs over HTTPS instead", what())
		case pb.MountType_CACHE:
			if m.CacheOpt == nil {
				m.CacheOpt = &pb.CacheOpt{}
			}
			id := m.CacheOpt.ID
			if id == "" {
				id = m.Dest
			}
			m.CacheOpt.ID = g.cacheNS + id
			changed = true
		}
	}
	for _, se := range e.Secretenv {
		if err := g.secret(se.ID, se.Optional, what); err != nil {
			return false, err
		}
	}
	return changed, nil
}

// secret checks that a step's secret is one of the app's (`appstore secret
// set`); an optional one may be missing.
func (g *guard) secret(id string, optional bool, what func() string) error {
	if _, ok := g.secrets[id]; ok {
		return nil
	}
	slug := g.slug
	if slug == "" {
		slug = "<slug>"
	}
	if optional {
		// Dockerfile secret mounts are optional unless required=true: the
		// step runs without it, and the log says why it may fail.
		g.say("%s: the secret %s is not set, so the step runs without it; `appstore secret set %s %s` sets it", what(), id, slug, id)
		return nil
	}
	return g.refuse("%s: RUN --mount=type=secret,id=%s: %s has no secret %s; set it with `appstore secret set %s %s`", what(), id, slug, id, slug, id)
}

// instruction names the Dockerfile instruction that made op dgst (or, for
// a source, the one that reads it): "Dockerfile line 3: ADD http://…",
// from BuildKit's source map and the step's name; fallback when unknown.
func (g *guard) instruction(def *pb.Definition, dgst string, consumers map[string][]string, fallback string) string {
	candidates := append([]string{dgst}, consumers[dgst]...)
	line := 0
	name := ""
	for _, d := range candidates {
		if line == 0 && def.Source != nil {
			if locs, ok := def.Source.Locations[d]; ok {
				for _, l := range locs.Locations {
					if int(l.SourceIndex) < len(def.Source.Infos) && def.Source.Infos[l.SourceIndex].Filename == g.dfName && len(l.Ranges) > 0 && l.Ranges[0].Start != nil {
						line = int(l.Ranges[0].Start.Line)
						break
					}
				}
			}
		}
		if name == "" {
			if md, ok := def.Metadata[d]; ok && md.Description != nil {
				name = stepName(md.Description["llb.customname"])
			}
		}
	}
	if name == "" {
		name = fallback
	}
	if line > 0 {
		return fmt.Sprintf("%s line %d: %s", g.dockerfile, line, name)
	}
	return fmt.Sprintf("%s: %s", g.dockerfile, name)
}

// stepName drops the "[stage 2/3] " prefix of a BuildKit step name.
func stepName(s string) string {
	if strings.HasPrefix(s, "[") {
		if i := strings.Index(s, "] "); i >= 0 {
			s = s[i+2:]
		}
	}
	return s
}

// literalURLs returns the http(s) URLs written out (without variables) as
// ADD sources in the Dockerfile, ONBUILD ADD included.
func literalURLs(dockerfile []byte) map[string]bool {
	out := map[string]bool{}
	res, err := parser.Parse(bytes.NewReader(dockerfile))
	if err != nil {
		return out
	}
	var walk func(n *parser.Node)
	walk = func(n *parser.Node) {
		for ; n != nil; n = n.Next {
			for _, c := range n.Children {
				walk(c)
			}
			if !strings.EqualFold(n.Value, command.Add) {
				continue
			}
			var args []string
			for a := n.Next; a != nil; a = a.Next {
				args = append(args, a.Value)
			}
			for i, a := range args {
				if i == len(args)-1 {
					break // the destination
				}
				if !strings.Contains(a, "$") && (strings.HasPrefix(a, "http://") || strings.HasPrefix(a, "https://")) {
					out[a] = true
				}
			}
			return
		}
	}
	for _, n := range res.AST.Children {
		walk(n)
	}
	return out
}

// parseAttrInt reads a decimal attribute of a source op.
func parseAttrInt(attrs map[string]string, key string, def int64) int64 {
	if v, ok := attrs[key]; ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	}
	return def
}

var errFetchRefused = errors.New("fetch refused")
