package appconfig

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/appstore-dev/appstore/catalog/store"
)

// Rotation is what RotateKey did.
type Rotation struct {
	OldKeyID, NewKeyID string
	// Resealed is how many secrets were moved to the new key.
	Resealed int
}

// RotateKey moves every stored secret to a new random key and makes it the
// key file's. The new key is written first beside the key file (path.new,
// mode 0600), the secrets are resealed in one transaction, then the new
// file replaces the old. A crash at any point leaves something that works
// and that running RotateKey again finishes: before the commit the
// secrets are still under the old key; after it, a daemon reads path.new
// too, and the next run only renames it.
func RotateKey(ctx context.Context, st *store.Store, path string) (*Rotation, error) {
	old, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	pendingPath := path + pendingSuffix
	next, err := readKeyFile(pendingPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		next = make([]byte, keySize)
		if _, err := rand.Read(next); err != nil {
			return nil, fmt.Errorf("make the new key: %w", err)
		}
		if err := writeKeyFile(pendingPath, next); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	}
	rot := &Rotation{OldKeyID: KeyID(old), NewKeyID: KeyID(next)}
	keys := map[string][]byte{rot.OldKeyID: old, rot.NewKeyID: next}
	rot.Resealed, err = st.ResealSecrets(ctx, func(repositoryID int64, name string, sealed []byte, keyID string) ([]byte, string, error) {
		if keyID == rot.NewKeyID {
			return nil, "", nil // moved by an interrupted run
		}
		key, ok := keys[keyID]
		if !ok {
			return nil, "", fmt.Errorf("secret %s of app %d is sealed with key %s, which is neither the key file's (%s) nor the new one: restore the key file that goes with this database first", name, repositoryID, keyID, rot.OldKeyID)
		}
		v, err := open(key, repositoryID, name, sealed)
		if err != nil {
			return nil, "", fmt.Errorf("secret %s of app %d does not decrypt with key %s (altered row): remove it and set it again", name, repositoryID, keyID)
		}
		out, err := seal(next, repositoryID, name, v)
		if err != nil {
			return nil, "", err
		}
		return out, rot.NewKeyID, nil
	})
	if err != nil {
		return nil, fmt.Errorf("reseal the secrets (nothing changed; %s is kept for the next try): %w", pendingPath, err)
	}
	if err := os.Rename(pendingPath, path); err != nil {
		return nil, fmt.Errorf("the secrets are sealed with the new key, but it could not replace the key file (run rotate-key again): %w", err)
	}
	return rot, nil
}
