package api_test

import (
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/daemon/api"
)

// TestReadmeIsRenderedSafely: Markdown becomes HTML without any of the
// README's own HTML, scripts or script links; links get rel=noopener; the
// front matter is metadata, not text.
func TestReadmeIsRenderedSafely(t *testing.T) {
	md := "---\ntitle: Hello\ntags: [go]\n---\n\n# Hello\n\nSee [the docs](https://example.com/docs) and **this**.\n\n" +
		"<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n[click](javascript:alert(3)) [data](data:text/html;base64,PHNjcmlwdD4=)\n\n" +
		"| a | b |\n|---|---|\n| 1 | 2 |\n\n```sh\ngo build\n```\n\nhttps://auto.example.com\n"
	got, html, err := api.RenderReadme(md)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got, "title: Hello") || !strings.HasPrefix(got, "# Hello") {
		t.Errorf("front matter kept: %q", got)
	}
	for _, want := range []string{
		"<h1>Hello</h1>", `<a href="https://example.com/docs" rel="noopener noreferrer">the docs</a>`, "<strong>this</strong>",
		"<table>", `<code class="language-sh">go build`, `href="https://auto.example.com" rel="noopener noreferrer"`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %q:\n%s", want, html)
		}
	}
	for _, bad := range []string{"<script", "onerror", "javascript:", "data:text", "<img"} {
		if strings.Contains(html, bad) {
			t.Errorf("HTML has %q:\n%s", bad, html)
		}
	}
}
