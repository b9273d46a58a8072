package metadata

import (
	"bytes"
	"html"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
	nethtml "golang.org/x/net/html"
)

// readmeCard is what the README's Markdown says about the app: its first
// level-one heading and its first paragraph of prose.
type readmeCard struct {
	Title       string
	Description string
	// RunPort is the container port of the README's `docker run -p`.
	RunPort int
}

// descriptionTarget is the length, in characters, around which a README
// paragraph is cut at a sentence boundary to make a card's description.
const descriptionTarget = 200

// markdown parses with GitHub's extensions, so that tables are tables and
// not paragraphs of pipes.
var markdown = goldmark.New(goldmark.WithExtensions(extension.GFM))

// maxCardSource is how much of a README is parsed for the card.
const maxCardSource = 64 << 10

// maxMarkdownBlocks bounds how many top-level blocks are looked at: the
// card comes from the head of the README.
const maxMarkdownBlocks = 400

// parseReadmeCard reads the title and the description of a README body
// (front matter already removed). The title is the first level-one heading
// (Markdown or HTML <h1>) whose text is not empty once badges, images and
// link markup are stripped. The description is the first paragraph of prose
// before the second section starts, or under a section called About,
// Overview, Description or Introduction: headings, badges, images, lines of
// links only, tables, code, lists, quotes, HTML comments and the
// boilerplate of project templates are skipped, inline Markdown is reduced
// to its text, and a long paragraph is cut at a sentence boundary near 200
// characters.
func parseReadmeCard(body []byte) readmeCard {
	var c readmeCard
	if len(body) > maxCardSource {
		// The card comes from the head of the README; the cut is at a
		// line so that no construct is split mid-line.
		cut := bytes.LastIndexByte(body[:maxCardSource], '\n')
		body = body[:max(cut, 0)]
	}
	doc := markdown.Parser().Parse(text.NewReader(body))
	c.RunPort = readmeRunPort(doc, body)
	// open is true while paragraphs may still give the description: before
	// the first section heading after the title, or in an About section.
	open := true
	n := 0
	// subtitle is a heading that reads as a description ("### A React app
	// with a Node backend"), used when no paragraph gives one.
	subtitle := ""
	for b := doc.FirstChild(); b != nil && n < maxMarkdownBlocks; b = b.NextSibling() {
		n++
		switch node := b.(type) {
		case *ast.Heading:
			t := inlineText(node, body)
			if node.Level == 1 && c.Title == "" && !isSectionTitle(t.text) {
				if s := cleanTitle(t.text); s != "" {
					c.Title = s
					continue
				}
			}
			if subtitle == "" && n <= 4 && node.Level > 1 && node.Level <= 3 {
				subtitle = subtitleOf(t.text)
			}
			if node.Level == 1 && c.Description == "" && !isSectionTitle(t.text) {
				// A second title (or an empty logo heading) does not close
				// the introduction; a level-one "Getting Started" does.
				continue
			}
			open = isIntroHeading(t.text)
		case *ast.Paragraph:
			if c.Description != "" || !open {
				continue
			}
			if d := proseOf(inlineText(node, body)); d != "" {
				c.Description = d
			}
		case *ast.HTMLBlock:
			title, paras := htmlBlockText(blockLines(node, body))
			if c.Title == "" && title != "" {
				c.Title = cleanTitle(title)
			}
			if c.Description != "" || !open {
				continue
			}
			for _, p := range paras {
				if d := proseOf(p); d != "" {
					c.Description = d
					break
				}
			}
		}
		if c.Title != "" && c.Description != "" {
			break
		}
	}
	if c.Description == "" {
		c.Description = subtitle
	}
	return c
}

// sectionNames are headings that name a part of a README, not the app.
var sectionNames = []string{"install", "installation", "usage", "getting started", "quick start", "quickstart",
	"features", "requirements", "prerequisites", "setup", "development", "contributing", "license", "licence",
	"build", "building", "running", "deploy", "deployment", "configuration", "table of contents", "contents",
	"how to", "demo", "screenshots", "api", "docs", "documentation", "changelog", "credits", "authors", "faq",
	"roadmap", "project structure", "structure", "todo", "tech stack", "built with", "compose sample"}

// sectionWords are words that make a heading a section's name wherever
// they stand in it ("Technology Stack and Features").
var sectionWords = map[string]bool{"features": true, "stack": true, "installation": true, "usage": true,
	"requirements": true, "prerequisites": true, "screenshots": true, "roadmap": true, "changelog": true,
	"contributing": true, "configuration": true, "deployment": true, "documentation": true, "license": true,
	"licence": true, "setup": true, "contents": true, "technologies": true}

// subtitleOf returns a heading's text when it reads as a description of
// the app: four words or more, not a question or a lead-in, not a section
// name.
func subtitleOf(s string) string {
	s = oneLine(s)
	if len(strings.Fields(s)) < 4 || strings.HasSuffix(s, ":") || strings.HasSuffix(s, "?") {
		return ""
	}
	l := strings.ToLower(trimLeadingSymbols(s))
	for _, n := range sectionNames {
		if strings.HasPrefix(l, n) {
			return ""
		}
	}
	for _, w := range strings.FieldsFunc(l, func(r rune) bool { return !unicode.IsLetter(r) }) {
		if sectionWords[w] {
			return ""
		}
	}
	if isBoilerplate(l) {
		return ""
	}
	return cutSentence(s, descriptionTarget)
}

// inline is the text of a run of inline Markdown, whether it holds links,
// and how many letters and digits it has outside them (a paragraph that is
// all links is navigation, not prose).
type inline struct {
	text         string
	links        bool
	plainLetters int
}

func letterCount(s string) int {
	n := 0
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			n++
		}
	}
	return n
}

// inlineText flattens the inline children of n: text and code as written,
// links reduced to their text, images and inline HTML tags dropped, line
// breaks as spaces.
func inlineText(n ast.Node, src []byte) inline {
	var b strings.Builder
	var out inline
	var walk func(n ast.Node, inLink bool)
	walk = func(n ast.Node, inLink bool) {
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			var s []byte
			switch c := c.(type) {
			case *ast.Text:
				s = util.UnescapePunctuations(c.Value(src))
				if c.SoftLineBreak() || c.HardLineBreak() {
					s = append(s, ' ')
				}
			case *ast.String:
				s = c.Value
			case *ast.Image, *ast.RawHTML, *east.TaskCheckBox:
				// Badges, pictures and tags say nothing as text; the text
				// between an opening and a closing tag is kept.
				continue
			case *ast.Link:
				out.links = true
				walk(c, true)
				continue
			case *ast.AutoLink:
				out.links = true
				b.Write(c.Label(src))
				continue
			default:
				walk(c, inLink)
				continue
			}
			b.Write(s)
			if !inLink {
				out.plainLetters += letterCount(string(s))
			}
		}
	}
	walk(n, false)
	out.text = html.UnescapeString(b.String())
	return out
}

func blockLines(n ast.Node, src []byte) []byte {
	var b bytes.Buffer
	lines := n.Lines()
	for i := 0; i < lines.Len(); i++ {
		seg := lines.At(i)
		b.Write(seg.Value(src))
	}
	if hb, ok := n.(*ast.HTMLBlock); ok && hb.HasClosure() {
		b.Write(hb.ClosureLine.Value(src))
	}
	return b.Bytes()
}

// blockTags end a run of text in an HTML block.
var blockTags = map[string]bool{
	"p": true, "div": true, "br": true, "h1": true, "h2": true, "h3": true, "h4": true,
	"h5": true, "h6": true, "li": true, "ul": true, "ol": true, "table": true, "tr": true,
	"td": true, "th": true, "section": true, "header": true, "footer": true, "center": true,
	"details": true, "summary": true, "blockquote": true, "pre": true, "hr": true,
}

// htmlBlockText reads an HTML block: the text of its first <h1>, and its
// other runs of text split at block tags, with how much of each is link
// text. Comments, scripts, styles, code, image alt texts and headings other
// than h1 are left out.
func htmlBlockText(data []byte) (title string, paras []inline) {
	z := nethtml.NewTokenizer(bytes.NewReader(data))
	var cur strings.Builder
	curLinks, curPlain := false, 0
	inTitle, inHeading, inLink, skip := false, false, false, 0
	var titleB strings.Builder
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			paras = append(paras, inline{text: s, links: curLinks, plainLetters: curPlain})
		}
		cur.Reset()
		curLinks, curPlain = false, 0
	}
	for i := 0; i < 10000; i++ {
		tt := z.Next()
		switch tt {
		case nethtml.ErrorToken:
			flush()
			return strings.TrimSpace(titleB.String()), paras
		case nethtml.TextToken:
			if skip > 0 {
				continue
			}
			t := string(z.Text())
			switch {
			case inTitle:
				titleB.WriteString(t)
			case inHeading:
			default:
				cur.WriteString(t)
				if inLink {
					curLinks = true
				} else {
					curPlain += letterCount(t)
				}
			}
		case nethtml.StartTagToken, nethtml.EndTagToken, nethtml.SelfClosingTagToken:
			name, _ := z.TagName()
			tag := string(name)
			start := tt == nethtml.StartTagToken
			switch tag {
			case "script", "style", "code", "pre", "picture", "svg":
				if start {
					skip++
				} else if tt == nethtml.EndTagToken && skip > 0 {
					skip--
				}
				continue
			case "a":
				inLink = start
				continue
			case "h1":
				inTitle = start && title == "" && titleB.Len() == 0
				flush()
				continue
			case "h2", "h3", "h4", "h5", "h6":
				inHeading = start
				flush()
				continue
			}
			if blockTags[tag] {
				flush()
			}
		}
	}
	flush()
	return strings.TrimSpace(titleB.String()), paras
}

// proseOf returns the card description a paragraph gives, or "" when it is
// not prose: empty once badges and images are gone, links only, a lead-in
// to a list or code (ending with a colon), an admonition, fewer than three
// words, or the boilerplate of a project template.
func proseOf(p inline) string {
	s := oneLine(p.text)
	if s == "" {
		return ""
	}
	rest := strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsPunct(r) || unicode.IsSpace(r) || unicode.IsSymbol(r) {
			return -1
		}
		return r
	}, s))
	if rest == "" {
		return ""
	}
	// Navigation: "[Demo](…) · [Docs](…)".
	if p.links && p.plainLetters <= 2 {
		return ""
	}
	// A label and a link: "Live demo: https://…", "Docs: [site](…)".
	if label, _, ok := strings.Cut(s, ": "); ok && p.links && p.plainLetters <= 20 && utf8.RuneCountInString(label) <= 20 {
		return ""
	}
	if strings.HasSuffix(s, ":") {
		// A lead-in to a list or code; the sentences before it, if any,
		// are prose ("An example of X. Read the articles here:").
		s = strings.TrimSpace(dropLastSentence(s))
	}
	if s == "" || strings.HasSuffix(s, ":") || len(strings.Fields(s)) < 3 {
		return ""
	}
	lower := strings.ToLower(s)
	for _, w := range admonitions {
		if strings.HasPrefix(lower, w) {
			after, _ := utf8.DecodeRuneInString(lower[len(w):])
			if !unicode.IsLetter(after) {
				return ""
			}
		}
	}
	if isBoilerplate(lower) || isDeploymentNote(s, p) {
		return ""
	}
	return cutSentence(dropProvenance(s), descriptionTarget)
}

// provenance matches a sentence about how the repository came to be rather
// than what the app does: "It has been developed as part of a blog
// series", "This project was built for a university course".
var provenance = regexp.MustCompile(`(?i)^(it|this (project|repo|repository|app|application|code))( has been| was| is)? (developed|created|built|made|written|done|started) (as (a |the )?part of|as an? (assignment|exercise|homework|project)|for (a|an|the|my|our) (blog|course|class|university|school|hackathon|workshop|tutorial|assignment|bootcamp|challenge)|during (a|an|the|my|our) )`)

// dropProvenance drops the sentences at the end of a paragraph that tell
// how the project came to be, when sentences about the app come before
// them.
func dropProvenance(s string) string {
	for {
		head := dropLastSentence(s)
		if head == "" || !provenance.MatchString(strings.TrimSpace(s[len(head):])) {
			return s
		}
		s = strings.TrimSpace(head)
	}
}

// deploymentWords are what a sentence saying where an app runs is built
// around: "I have deployed this project on Heroku: …", "Live demo at …",
// "Hosted on Render: …", "Try it at …", "I put this app online on Fly: …".
var deploymentWords = regexp.MustCompile(`(?i)\b(deployed|hosted|live (at|on|here|demo|version|app|site|link|url)|running (at|on)|available (at|on|here)|try it (out )?(at|on|here)|online (at|on|here)|put (it|this( \w+)?|the \w+) online)\b`)

// isDeploymentNote says a paragraph only tells where the app is deployed:
// one sentence with a link or an address and a deployment phrase. It says
// nothing of what the app does, so it is not a description; a sentence
// that describes the app and also names its address has more than that
// and usually more sentences.
func isDeploymentNote(s string, p inline) bool {
	l := strings.ToLower(s)
	if !p.links && !strings.Contains(l, "://") && !strings.Contains(l, "www.") {
		return false
	}
	if dropLastSentence(s) != "" || len(strings.Fields(s)) > 20 {
		return false
	}
	return deploymentWords.MatchString(s)
}

var admonitions = []string{"note", "warning", "todo", "wip", "caution", "important", "disclaimer", "tip", "[!note]", "[!warning]", "[!important]", "[!tip]", "[!caution]"}

// boilerplate are the first words of paragraphs that project templates and
// generators write into a new README: they describe the template, not the
// app.
var boilerplate = []string{
	"check out the configuration reference at",           // Hugging Face Spaces
	"this project was bootstrapped with",                 // Create React App
	"this is a next.js project bootstrapped with",        // create-next-app
	"this template provides a minimal setup to get",      // Vite
	"this template should help get you started",          // Vite (Vue, Svelte)
	"look at the nuxt documentation",                     // Nuxt
	"everything you need to build a svelte project",      // create-svelte
	"this readme would normally document whatever steps", // Rails
	"laravel is a web application framework",             // Laravel
	"this project was generated with angular cli",        // Angular
	"this project was generated using angular cli",       // Angular
	"welcome to your new",                                // various
	"a new flutter project",                              // Flutter
	"an open api service providing",                      // placeholder of generators
}

func isBoilerplate(lower string) bool {
	for _, b := range boilerplate {
		if strings.HasPrefix(lower, b) {
			return true
		}
	}
	return false
}

// boilerplateTitles are headings of template READMEs.
var boilerplateTitles = map[string]bool{
	"getting started with create react app": true,
	"react + vite":                          true,
	"react + typescript + vite":             true,
	"vue 3 + vite":                          true,
	"vue 3 + typescript + vite":             true,
	"svelte + vite":                         true,
	"svelte + ts + vite":                    true,
	"create-svelte":                         true,
	"sv":                                    true,
	"nuxt 3 minimal starter":                true,
	"nuxt minimal starter":                  true,
	"readme":                                true,
	"about laravel":                         true,
	"table of contents":                     true,
	"contents":                              true,
}

// cleanTitle makes a heading's text a name: one line, without a trailing
// colon; "" for a template's heading.
func cleanTitle(s string) string {
	s = strings.TrimSpace(strings.TrimRight(oneLine(s), ":"))
	if boilerplateTitles[strings.ToLower(s)] {
		return ""
	}
	return s
}

// introHeadings are section names under which a README describes the app.
var introHeadings = []string{"about", "overview", "description", "introduction", "summary", "what is", "what's", "what it does", "the app", "intro"}

func isIntroHeading(s string) bool {
	l := strings.ToLower(strings.TrimSpace(strings.Trim(trimLeadingSymbols(oneLine(s)), ":!?.")))
	for _, h := range introHeadings {
		if l == h || strings.HasPrefix(l, h+" ") {
			return true
		}
	}
	return false
}

// isSectionTitle says a level-one heading names a part of the README
// ("Getting Started", "Installation", "About"), not the app: it is no
// title, and the paragraphs under it describe the app only when it is an
// introduction (About, Overview…).
func isSectionTitle(s string) bool {
	l := strings.ToLower(strings.TrimSpace(strings.Trim(trimLeadingSymbols(oneLine(s)), ":!?.")))
	if isIntroHeading(l) {
		return true
	}
	return slices.Contains(sectionNames, l)
}

// trimLeadingSymbols drops the emoji and punctuation a heading may start
// with ("📝 Description", "🚀 Getting Started").
func trimLeadingSymbols(s string) string {
	return strings.TrimLeftFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// oneLine folds white space to single spaces and trims.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// cutSentence shortens s to about target characters: whole when it is
// within a tenth over the target; else at the last end of a sentence
// between half the target and a tenth over it; else at the last word
// before the target, with an ellipsis.
func cutSentence(s string, target int) string {
	runes := []rune(s)
	if len(runes) <= target+target/10 {
		return s
	}
	best := -1
	for i := 0; i < len(runes)-1 && i < target+target/10; i++ {
		if !isSentenceEnd(runes, i) {
			continue
		}
		if i+1 >= target/2 {
			best = i + 1
		}
	}
	if best > 0 {
		return strings.TrimSpace(string(runes[:best]))
	}
	cut := target
	for cut > target/2 && !unicode.IsSpace(runes[cut]) {
		cut--
	}
	if cut <= target/2 {
		cut = target
	}
	return strings.TrimRight(strings.TrimSpace(string(runes[:cut])), ",;:-–—") + "…"
}

// dropLastSentence returns s up to the end of its second-to-last
// sentence, "" when it has only one.
func dropLastSentence(s string) string {
	runes := []rune(s)
	for i := len(runes) - 2; i >= 0; i-- {
		if isSentenceEnd(runes, i) {
			return string(runes[:i+1])
		}
	}
	return ""
}

// isSentenceEnd says runes[i] ends a sentence: a full stop, question or
// exclamation mark (or a CJK full stop) followed by a space, that is not
// an abbreviation such as "e.g." or a single initial.
func isSentenceEnd(runes []rune, i int) bool {
	switch runes[i] {
	case '。', '！', '？':
		return true
	case '.', '!', '?':
	default:
		return false
	}
	if i+1 >= len(runes) || !unicode.IsSpace(runes[i+1]) {
		return false
	}
	if runes[i] != '.' {
		return true
	}
	// The word before the full stop.
	j := i
	for j > 0 && !unicode.IsSpace(runes[j-1]) {
		j--
	}
	word := strings.ToLower(string(runes[j:i]))
	switch word {
	case "e.g", "i.e", "etc", "vs", "approx", "incl", "dr", "mr", "mrs", "ms", "st", "no", "cf", "fig":
		return false
	}
	if utf8.RuneCountInString(word) == 1 {
		return false
	}
	return true
}
