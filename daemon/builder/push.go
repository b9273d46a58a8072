package builder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/pkg/jsonmessage"

	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/internal/textutil"
)

// push sends a succeeded build's image to the registry (Options.Registry)
// as HOST[/PREFIX]/appstore/<slug>:<commit> and records the digest the
// registry answered. The progress goes into the build log, one line per
// layer and state (no progress bars). The registry's tag is taken off the
// engine again afterwards: the image keeps one local name, which pruning
// removes by id.
//
// A push that fails is a transient error: the build is retried, and fails
// with the registry's answer once its attempts are used up.
func (w *Worker) push(ctx context.Context, work *store.BuildWork, o store.BuildOutcome, logs *logSink) (store.BuildOutcome, error) {
	reg := w.opts.Registry
	_, tag, _ := strings.Cut(o.ImageTag, ":")
	ref := reg.Tagged(work.Repository, tag)
	if err := w.engine.ImageTag(ctx, o.ImageID, ref); err != nil {
		return o, engineError(w.engine, fmt.Errorf("tag the image as %s for the registry: %w", ref, err))
	}
	defer func() {
		// Only the name goes: the image stays under its own tag.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, err := w.engine.ImageRemove(rctx, ref, image.RemoveOptions{}); err != nil && !isNotFound(err) {
			w.logger.Debug("untag the registry reference", "ref", ref, "err", err)
		}
	}()
	logs.addf("Pushing %s to %s", ref, reg.Host)
	rc, err := w.engine.ImagePush(ctx, ref, image.PushOptions{RegistryAuth: reg.EngineAuth()})
	if err != nil {
		if ctx.Err() != nil {
			return o, ctx.Err()
		}
		return o, &transientError{msg: fmt.Sprintf("push %s: %v", ref, err)}
	}
	defer rc.Close()
	digest, err := readPush(rc, logs.add)
	if err != nil {
		if ctx.Err() != nil {
			return o, ctx.Err()
		}
		return o, &transientError{msg: fmt.Sprintf("push %s to the registry failed: %v", ref, err)}
	}
	if digest == "" {
		return o, &transientError{msg: fmt.Sprintf("push %s: the registry answered no digest", ref)}
	}
	logs.addf("Pushed %s@%s", reg.Repository(work.Repository), digest)
	o.RegistryImage, o.ImageDigest = ref, digest
	return o, nil
}

// readPush reads the engine's push stream: each layer's state changes go to
// emit ("a1b2c3d4e5f6: Pushed"), the digest comes from the aux message, an
// error message ends it.
func readPush(r io.Reader, emit func(string)) (string, error) {
	dec := json.NewDecoder(r)
	last := map[string]string{}
	digest := ""
	for {
		var m jsonmessage.JSONMessage
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return digest, nil
			}
			return digest, fmt.Errorf("read the engine's push progress: %w", err)
		}
		if m.Error != nil {
			return digest, errors.New(textutil.CleanLine(m.Error.Message))
		}
		if m.Aux != nil {
			var aux struct{ Tag, Digest string }
			if json.Unmarshal(*m.Aux, &aux) == nil && aux.Digest != "" {
				digest = aux.Digest
			}
			continue
		}
		if m.Status == "" || m.Progress != nil && m.Progress.Current > 0 && m.Status == "Pushing" {
			continue
		}
		line := m.Status
		if m.ID != "" {
			if last[m.ID] == m.Status {
				continue
			}
			last[m.ID] = m.Status
			line = m.ID + ": " + m.Status
		}
		emit(textutil.CleanLine(line))
	}
}
