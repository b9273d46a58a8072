package tui

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/appstore-dev/appstore/client"
)

// Golden tests run the real tea.Program (teatest) at a fixed size, without
// colour, on the fake daemon with a fixed clock, and compare the final
// screen with testdata/<test>.golden (go test ./tui -run Golden -update
// rewrites them; read the diff before committing).

const goldenW, goldenH = 100, 24

func startGolden(t *testing.T, src Source) (*teatest.TestModel, *Model) {
	t.Helper()
	clock := &fakeClock{t: fakeEpoch}
	opts := testOptions(src, clock, make(chan string, 8))
	m := New(context.Background(), opts)
	t.Cleanup(m.Close)
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(goldenW, goldenH))
	t.Cleanup(func() { _ = tm.Quit() })
	return tm, m
}

// waitScreen waits until the program has drawn all of want.
func waitScreen(t *testing.T, tm *teatest.TestModel, want ...string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		for _, w := range want {
			if !bytes.Contains(b, []byte(w)) {
				return false
			}
		}
		return true
	}, teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
}

// finalScreen quits and returns the last screen the model drew.
func finalScreen(t *testing.T, tm *teatest.TestModel) []byte {
	t.Helper()
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	fm := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second))
	return []byte(fm.View())
}

func TestGoldenSuggestions(t *testing.T) {
	tm, _ := startGolden(t, catalogSource())
	waitScreen(t, tm, "● live", "4 apps")
	tm.Type("lang:go fr")
	waitScreen(t, tm, "framework:gin", "framework:fiber")
	golden.RequireEqual(t, finalScreen(t, tm))
}

func TestGoldenResults(t *testing.T) {
	tm, _ := startGolden(t, catalogSource())
	waitScreen(t, tm, "● live", "4 apps")
	tm.Type("lang:go")
	tm.Send(keyMsg("enter"))
	waitScreen(t, tm, "2 apps · “lang:go”")
	tm.Send(keyMsg("down"))
	waitScreen(t, tm, "› chat")
	golden.RequireEqual(t, finalScreen(t, tm))
}

func TestGoldenDetail(t *testing.T) {
	tm, _ := startGolden(t, catalogSource())
	waitScreen(t, tm, "● live", "4 apps")
	tm.Send(keyMsg("down"))
	tm.Send(keyMsg("enter"))
	waitScreen(t, tm, "Team dashboard with charts", "manual  category:dashboard")
	golden.RequireEqual(t, finalScreen(t, tm))
}

func TestGoldenBuildLog(t *testing.T) {
	src := catalogSource()
	tm, _ := startGolden(t, src)
	waitScreen(t, tm, "● live", "4 apps")
	ch := src.logChannel(7)
	ch <- client.LogLine{ID: 1, BuildID: 7, Line: "Step 1/2 : FROM scratch"}
	ch <- client.LogLine{ID: 2, BuildID: 7, Line: "Step 2/2 : COPY app /app"}
	tm.Send(keyMsg("down"))
	tm.Send(keyMsg("enter"))
	tm.Send(keyMsg("l"))
	waitScreen(t, tm, "Step 2/2", "following")
	golden.RequireEqual(t, finalScreen(t, tm))
}

func TestGoldenOffline(t *testing.T) {
	src := catalogSource()
	src.setOffline(true)
	tm, _ := startGolden(t, src)
	waitScreen(t, tm, "not reachable", "(attempt 1)")
	golden.RequireEqual(t, finalScreen(t, tm))
}
