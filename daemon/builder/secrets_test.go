package builder_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/daemon/appconfig"
	"github.com/appstore-dev/appstore/daemon/builder"
)

// TestBuildSecretMountGetsTheAppsSecretAndTheLogHidesIt: RUN
// --mount=type=secret,id=NAME reads the app's secret NAME, it is not in
// the image, and neither the build's log nor its
// error shows the value.
func TestBuildSecretMountGetsTheAppsSecretAndTheLogHidesIt(t *testing.T) {
	t.Parallel()
	keys, err := appconfig.OpenKeyring(filepath.Join(t.TempDir(), appconfig.KeyFileName), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc := &appconfig.Service{Keys: keys}
	e := newEnv(t, builder.Options{AppConfig: svc})
	const value = "npm-token-3f9a1c77e2"
	slug, _, _ := e.bbRepo("bsecret", "FROM BASE\n"+
		"RUN --mount=type=secret,id=NPM_TOKEN sh -c 'echo \"token is $(cat /run/secrets/NPM_TOKEN)\"'\n"+
		"RUN test ! -e /run/secrets/NPM_TOKEN && echo no secret in the image\n", nil)
	if err := svc.SetSecret(context.Background(), slug, "NPM_TOKEN", []byte(value)); err != nil {
		t.Fatal(err)
	}
	b := e.buildOK(slug, true)
	e.logHas(b.ID, "token is [secret NPM_TOKEN]", "no secret in the image")
	if strings.Contains(e.logText(b.ID), value) {
		t.Errorf("the build log shows the secret:\n%s", e.logText(b.ID))
	}

	// A failing step that prints the secret: the error quotes its last
	// lines, redacted.
	fail, _, _ := e.bbRepo("bsecretfail", "FROM BASE\nRUN --mount=type=secret,id=NPM_TOKEN sh -c 'echo \"bad token $(cat /run/secrets/NPM_TOKEN)\"; exit 3'\n", nil)
	if err := svc.SetSecret(context.Background(), fail, "NPM_TOKEN", []byte(value)); err != nil {
		t.Fatal(err)
	}
	fb := e.buildFails(fail)
	if strings.Contains(fb.ErrorMessage, value) || strings.Contains(e.logText(fb.ID), value) {
		t.Errorf("a failed build shows the secret: error %q\nlog:\n%s", fb.ErrorMessage, e.logText(fb.ID))
	}
	if !strings.Contains(e.logText(fb.ID), "bad token [secret NPM_TOKEN]") {
		t.Errorf("the failing step's output is missing from the log:\n%s", e.logText(fb.ID))
	}
}
