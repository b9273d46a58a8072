package cli

import (
	"bytes"
	"io"
	"os"
	"strings"

	"github.com/mattn/go-isatty"
)

// IOStreams are the standard streams of a command and what is known about
// them. Commands never touch os.Stdin/Stdout/Stderr; tests give buffers and
// say whether they stand for a terminal.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY  bool
	stdoutTTY bool
	stderrTTY bool
	// colorDisabled is set by NO_COLOR or --no-color.
	colorDisabled bool
}

// System returns the process's streams.
func System() *IOStreams {
	return &IOStreams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		stdinTTY:  isTerminal(os.Stdin),
		stdoutTTY: isTerminal(os.Stdout),
		stderrTTY: isTerminal(os.Stderr),
	}
}

func isTerminal(f *os.File) bool {
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

// TestStreams returns streams on buffers, none of them a terminal: feed
// stdin through in, read what the command wrote from out and errOut.
func TestStreams(stdin string) (ios *IOStreams, out, errOut *bytes.Buffer) {
	out, errOut = &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: strings.NewReader(stdin), Out: out, ErrOut: errOut}, out, errOut
}

// SetTTY makes the streams claim to be (or not be) terminals.
func (s *IOStreams) SetTTY(stdin, stdout, stderr bool) {
	s.stdinTTY, s.stdoutTTY, s.stderrTTY = stdin, stdout, stderr
}

// IsStdinTTY reports whether input comes from a terminal (a person).
func (s *IOStreams) IsStdinTTY() bool { return s.stdinTTY }

// IsStdoutTTY reports whether output goes to a terminal: human tables and
// confirmations there, plain tab-separated data otherwise.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// IsStderrTTY reports whether errors go to a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

// CanPrompt reports whether a question can be asked and answered.
func (s *IOStreams) CanPrompt() bool { return s.stdinTTY && s.stdoutTTY }

// DisableColor turns colour off (NO_COLOR, --no-color).
func (s *IOStreams) DisableColor() { s.colorDisabled = true }

// ColorEnabled reports whether stdout gets ANSI colours.
func (s *IOStreams) ColorEnabled() bool { return s.stdoutTTY && !s.colorDisabled }

// ANSI colours used by the commands.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiGray   = "\x1b[90m"
)

func (s *IOStreams) paint(code, text string) string {
	if !s.ColorEnabled() || text == "" {
		return text
	}
	return code + text + ansiReset
}

// Bold, Red, Green, Yellow and Gray colour text when colour is enabled.
func (s *IOStreams) Bold(t string) string   { return s.paint(ansiBold, t) }
func (s *IOStreams) Red(t string) string    { return s.paint(ansiRed, t) }
func (s *IOStreams) Green(t string) string  { return s.paint(ansiGreen, t) }
func (s *IOStreams) Yellow(t string) string { return s.paint(ansiYellow, t) }
func (s *IOStreams) Gray(t string) string   { return s.paint(ansiGray, t) }

// SuccessIcon is a check mark on terminals.
func (s *IOStreams) SuccessIcon() string { return s.Green("✓") }
