// Package appconfig gives apps their configuration: the variables and
// secrets set with `appstore env` and `appstore secret`, and what the apps
// declare they need. Secrets are sealed with AES-256-GCM under a key kept
// in a file (Keyring), never in the database; the runner and the builder
// get the opened values (LaunchConfig, BuildSecrets) and a Redactor that
// hides them in whatever text leaves the daemon.
package appconfig

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// KeyFileName is the key file's name in the data directory.
const KeyFileName = "secrets.key"

// keySize is AES-256's.
const keySize = 32

// pendingSuffix names the key a rotation is moving the secrets to, until
// it is done: a daemon that finds one reads secrets sealed with either.
const pendingSuffix = ".new"

// Keyring holds the key that seals the apps' secrets, read from its file.
type Keyring struct {
	path   string
	logger *slog.Logger

	mu   sync.Mutex
	keys map[string][]byte // key id → key
	cur  string            // id of the key that seals
}

// KeyID is the id of a key: the first 8 bytes of its SHA-256, in hex.
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:8])
}

// OpenKeyring reads the key file at path. When it does not exist and
// create is set, a new random key is written there with mode 0600 (the
// daemon's data directory at first start); otherwise a missing file is an
// error. A key file readable by others is logged as a warning.
func OpenKeyring(path string, create bool, logger *slog.Logger) (*Keyring, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	k := &Keyring{path: path, logger: logger}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) && create {
		key := make([]byte, keySize)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("make the secrets key: %w", err)
		}
		if err := writeKeyFile(path, key); err != nil {
			return nil, err
		}
		logger.Info("created the key that encrypts the apps' secrets; back it up with the database", "path", path, "key_id", KeyID(key))
	}
	if err := k.load(); err != nil {
		return nil, err
	}
	return k, nil
}

// Path is the key file's path.
func (k *Keyring) Path() string { return k.path }

// CurrentID is the id of the key that seals new secrets.
func (k *Keyring) CurrentID() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.cur
}

// load reads the key file and a rotation's pending key, if any.
func (k *Keyring) load() error {
	key, err := readKeyFile(k.path)
	if err != nil {
		return err
	}
	if st, err := os.Stat(k.path); err == nil && st.Mode().Perm()&0o077 != 0 {
		// Not refused: secret managers often mount files 0644 behind a
		// symlink. Said at every load instead.
		k.logger.Warn("the secrets key file is readable by other users: chmod 600 it", "path", k.path, "mode", st.Mode().Perm().String())
	}
	keys := map[string][]byte{KeyID(key): key}
	if pending, err := readKeyFile(k.path + pendingSuffix); err == nil {
		keys[KeyID(pending)] = pending
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	k.mu.Lock()
	k.keys, k.cur = keys, KeyID(key)
	k.mu.Unlock()
	return nil
}

func readKeyFile(path string) ([]byte, error) {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("secrets key file %s: %w (it is made at the first start in the data directory; with --secret-key-file, create it: head -c 32 /dev/urandom | base64 > FILE; chmod 600 FILE)", path, err)
		}
		return nil, fmt.Errorf("secrets key file: %w", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secrets key file: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != keySize {
		return nil, fmt.Errorf("secrets key file %s does not hold a key: want %d random bytes in base64 (head -c 32 /dev/urandom | base64)", path, keySize)
	}
	return key, nil
}

// writeKeyFile writes key to path with mode 0600, atomically: a crash
// leaves the old file or the new one, never half of one.
func writeKeyFile(path string, key []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("secrets key file: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".secrets-key-*")
	if err != nil {
		return fmt.Errorf("secrets key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("secrets key file: %w", err)
	}
	if _, err := tmp.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		tmp.Close()
		return fmt.Errorf("secrets key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("secrets key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("secrets key file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("secrets key file: %w", err)
	}
	return nil
}

// additionalData binds a sealed value to its app and name: a ciphertext
// copied to another row does not open.
func additionalData(repositoryID int64, name string) []byte {
	return []byte("appstore-secret\x00" + strconv.FormatInt(repositoryID, 10) + "\x00" + name)
}

func seal(key []byte, repositoryID int64, name string, value []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, value, additionalData(repositoryID, name)), nil
}

func open(key []byte, repositoryID int64, name string, sealed []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize()+gcm.Overhead() {
		return nil, errors.New("the stored value is truncated")
	}
	n := gcm.NonceSize()
	return gcm.Open(nil, sealed[:n], sealed[n:], additionalData(repositoryID, name))
}

// Seal encrypts a secret's value for the app repositoryID under the
// current key; it returns the sealed bytes and the key's id.
func (k *Keyring) Seal(repositoryID int64, name string, value []byte) ([]byte, string, error) {
	k.mu.Lock()
	key, id := k.keys[k.cur], k.cur
	k.mu.Unlock()
	out, err := seal(key, repositoryID, name, value)
	if err != nil {
		return nil, "", fmt.Errorf("encrypt secret %s: %w", name, err)
	}
	return out, id, nil
}

// Open decrypts a sealed secret. A key id it does not hold makes it read
// the key files again once (a rotation by `appstored secrets rotate-key`
// while this daemon runs).
func (k *Keyring) Open(repositoryID int64, name string, sealed []byte, keyID string) ([]byte, error) {
	k.mu.Lock()
	key, ok := k.keys[keyID]
	k.mu.Unlock()
	if !ok {
		if err := k.load(); err != nil {
			return nil, fmt.Errorf("secret %s: %w", name, err)
		}
		k.mu.Lock()
		key, ok = k.keys[keyID]
		k.mu.Unlock()
	}
	if !ok {
		return nil, fmt.Errorf("secret %s was encrypted with key %s, and the key file %s holds another (%s): restore the key file that goes with this database, or set the secret again", name, keyID, k.path, k.CurrentID())
	}
	v, err := open(key, repositoryID, name, sealed)
	if err != nil {
		return nil, fmt.Errorf("secret %s does not decrypt with key %s (the row was altered or moved): set it again", name, keyID)
	}
	return v, nil
}
