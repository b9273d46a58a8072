package metadata

import (
	"slices"
	"testing"
)

// Rules added after a held-out check on real repositories: the edge cases
// the corpus fixtures do not reach.

func TestDockerRunLinePort(t *testing.T) {
	cases := []struct {
		line string
		want int
	}{
		{"docker run -p 8000:8000 my-app", 8000},
		{"docker run --rm -it -p 127.0.0.1:8080:80/tcp my-app", 80},
		{"docker run -d --name web --publish=3000:3000 my-app", 3000},
		{"docker run -p8081:5000 my-app", 5000},
		{"sudo docker container run -e A=1 -v $(pwd):/app -p 9000 img", 9000},
		{"ID=$(docker run -e \"PORT=$PORT\" -p $PORT:$PORT -d ruby-sample)", 0}, // variables
		{"docker run -p 5353:53/udp dns", 0},                                    // not TCP
		{"docker run -d -p 5432:5432 -e POSTGRES_PASSWORD=x postgres:16", 0},    // a datastore
		{"docker run -p 80:80 nginx:alpine", 0},                                 // a proxy
		{"docker run my-app --port 7000 -p 1234", 0},                            // after the image: the app's arguments
		{"docker build -t app . && docker run -p 4000:4000 app", 4000},
		{"podman run -p 8443:8443 app", 8443},
		{"docker compose up -d", 0},
	}
	for _, c := range cases {
		if got := dockerRunLinePort(c.line); got != c.want {
			t.Errorf("%q: %d, want %d", c.line, got, c.want)
		}
	}
}

func TestSoleAppPortEnv(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want int
		ok   bool
	}{
		{map[string]string{"AXUM_PORT": "8080"}, 8080, true},
		{map[string]string{"AXUM_PORT": "8080", "POSTGRES_PORT": "5432", "SMTP_PORT": "25"}, 8080, true},
		{map[string]string{"WEB_PORT": "80", "ADMIN_PORT": "9000"}, 80, true},
		{map[string]string{"WEB_PORT": "80", "GAME_PORT": "7777"}, 0, false}, // two candidates
		{map[string]string{"DB_PORT": "5432", "APP_DB_PORT": "5433"}, 0, false},
		{map[string]string{"ROCKET_PORT": "${PORT}"}, 0, false},
		{map[string]string{"PORTAL": "1"}, 0, false},
	}
	for _, c := range cases {
		got, ok := soleAppPortEnv(c.env)
		if got != c.want || ok != c.ok {
			t.Errorf("%v: %d %v, want %d %v", c.env, got, ok, c.want, c.ok)
		}
	}
}

func TestGenericCompoundNames(t *testing.T) {
	for _, n := range []string{"test-app", "my-react-app", "sample_project", "next-starter", "demo-app-2"} {
		if !isGenericCompound(n) {
			t.Errorf("%q is not taken for a placeholder", n)
		}
	}
	for _, n := range []string{"app", "lunch-roulette", "test-runner-ui", "invoice-app"} {
		if isGenericCompound(n) {
			t.Errorf("%q is taken for a placeholder", n)
		}
	}
}

func TestSectionTitles(t *testing.T) {
	for _, s := range []string{"Getting Started", "🚀 Getting Started", "Installation", "About", "📝 Description:"} {
		if !isSectionTitle(s) {
			t.Errorf("%q is not a section title", s)
		}
	}
	for _, s := range []string{"Pong Arena", "Getting Started with Pong", "Aboutface"} {
		if isSectionTitle(s) {
			t.Errorf("%q is a section title", s)
		}
	}
	if s := subtitleOf("Technology Stack and Features"); s != "" {
		t.Errorf("subtitle %q from a section heading", s)
	}
	if s := subtitleOf("A React app with a Node backend"); s == "" {
		t.Error("no subtitle from a describing heading")
	}
}

func TestInstalledFrameworks(t *testing.T) {
	cases := []struct {
		runs []string
		want []string
	}{
		{[]string{"pip install --no-cache-dir -r requirements.txt && pip install Flask==3.0 gunicorn"}, []string{"flask"}},
		{[]string{"python -m pip install -i https://example.org/simple gradio"}, []string{"gradio"}},
		{[]string{"uv pip install --system 'fastapi[standard]'"}, []string{"fastapi"}},
		{[]string{"npm install -g vite serve"}, nil}, // global tools, not the app's
		{[]string{"npm install && npm install express@4"}, []string{"express"}},
		{[]string{"apk add git \\\n    && go get -u github.com/gin-gonic/gin/... \\\n    && go build"}, []string{"gin"}},
		{[]string{"gem install sinatra puma"}, []string{"sinatra"}},
		{[]string{"composer require slim/slim:^4.0"}, []string{"slim"}},
		{[]string{"pip install -r flask"}, nil}, // a requirements file named flask
		{[]string{"echo pip install flask > notes.txt"}, nil},
		// A framework's own repository, cloned to build on it from source.
		{[]string{"git clone --depth 1 https://github.com/gradio-app/gradio.git"}, []string{"gradio"}},
		{[]string{"cd /src && git clone -b v3.0.0 --single-branch git@github.com:Pallets/Flask.git && pip install -e flask"}, []string{"flask"}},
		{[]string{"git clone https://github.com/vercel/next.js/ next"}, []string{"next"}},
		{[]string{"git clone --depth 1 https://github.com/acme/dash.git"}, nil}, // a project named like a framework
		{[]string{"git clone https://example.org/gradio.git"}, nil},
	}
	for _, c := range cases {
		if got := installedFrameworks(c.runs); !slices.Equal(got, c.want) {
			t.Errorf("%q: %v, want %v", c.runs, got, c.want)
		}
	}
}

func TestComposeIncludes(t *testing.T) {
	data := []byte("include:\n  - a/compose.yml\n  - path: ./b/docker-compose.yml\n  - path:\n      - c/compose.yaml\n      - c/compose.override.yaml\n  - ../outside/compose.yml\n  - /abs/compose.yml\nservices: {}\n")
	got := composeIncludes("deploy/compose.yml", data)
	want := []string{"deploy/a/compose.yml", "deploy/b/docker-compose.yml", "deploy/c/compose.yaml", "deploy/c/compose.override.yaml", "outside/compose.yml"}
	if !slices.Equal(got, want) {
		t.Errorf("includes %q, want %q", got, want)
	}
	if got := composeIncludes("compose.yml", []byte("include:\n  - ../../etc/compose.yml\n")); len(got) != 0 {
		t.Errorf("an include leaving the repository was kept: %q", got)
	}
}

func TestMergeComposeOverride(t *testing.T) {
	base := []composeService{{Name: "api", Build: true, Context: ".", Dockerfile: "api/Dockerfile", Expose: []int{8000}}, {Name: "db", Image: "postgres"}}
	over := []composeService{{Name: "api", Ports: []int{8000}, DependsOn: []string{"db"}}, {Name: "e2e", Build: true, Context: ".", Dockerfile: "e2e/Dockerfile"}}
	got := mergeCompose(base, over)
	if len(got) != 3 || got[2].Name != "e2e" {
		t.Fatalf("merged %+v", got)
	}
	if a := got[0]; !a.Build || a.Dockerfile != "api/Dockerfile" || !slices.Equal(a.Ports, []int{8000}) || !slices.Equal(a.DependsOn, []string{"db"}) {
		t.Errorf("api merged as %+v", a)
	}
	if len(base[0].Ports) != 0 {
		t.Error("the base services were changed")
	}
}

// FuzzHeldOutRules feeds hostile text to the readers the held-out rules
// added: none may panic, ports stay ports, include paths stay inside the
// repository, and the frameworks come from the known tables.
func FuzzHeldOutRules(f *testing.F) {
	f.Add("docker run -p 8000:8000 app")
	f.Add("docker run -p")
	f.Add("docker container run --publish=:/udp -p -p -p 1:2:3:4 x")
	f.Add("pip install -r && npm i -g && go get @ && gem install && composer require :")
	f.Add("include:\n  - path: [a, ../../b, {c: d}]\n  - ''\nservices: []\n")
	f.Add("\\\n\\\n;;&&||")
	f.Fuzz(func(t *testing.T, s string) {
		if p := dockerRunLinePort(s); p < 0 || p > 65535 {
			t.Fatalf("port %d", p)
		}
		known := map[string]bool{}
		for _, table := range [][]framework{pythonFrameworks, npmFrameworks, goFrameworks, rubyFrameworks, phpFrameworks} {
			for _, fw := range table {
				known[fw.name] = true
			}
		}
		for _, fw := range installedFrameworks([]string{s}) {
			if !known[fw] {
				t.Fatalf("framework %q is not a known one", fw)
			}
		}
		for _, p := range composeIncludes("compose.yml", []byte(s)) {
			if p == ".." || len(p) > 2 && p[:3] == "../" || len(p) > 0 && p[0] == '/' {
				t.Fatalf("include %q leaves the repository", p)
			}
		}
		if p, ok := soleAppPortEnv(map[string]string{s + "_PORT": s}); ok && (p < 1 || p > 65535) {
			t.Fatalf("port %d", p)
		}
	})
}

func TestLeadInParagraphs(t *testing.T) {
	cases := map[string]string{
		"An example of a JSON API in a container. Read the posts here:": "An example of a JSON API in a container.",
		"Run the following commands:":                                   "",
		"Install it, e.g. with pip:":                                    "",
		"A tool for notes. It syncs them. See:":                         "A tool for notes. It syncs them.",
	}
	for in, want := range cases {
		if got := proseOf(inline{text: in, plainLetters: letterCount(in)}); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestComposeV1(t *testing.T) {
	v1 := []byte("web:\n  build: .\n  ports: [\"8080:80\"]\ndb:\n  image: postgres\n")
	svcs, _ := parseCompose("docker-compose.yml", v1)
	if len(svcs) != 2 || !svcs[0].Build || svcs[0].Ports[0] != 80 {
		t.Errorf("first-format services %+v", svcs)
	}
	for _, notV1 := range []string{
		"version: '2'\nweb:\n  build: .\n",
		"settings:\n  debug: true\n",
		"web:\n  build: .\nextra: 1\n",
	} {
		if svcs, _ := parseCompose("docker-compose.yml", []byte(notV1)); len(svcs) != 0 {
			t.Errorf("%q read as services: %+v", notV1, svcs)
		}
	}
}

// TestDeploymentNotes: a README paragraph that only says where the app is
// deployed is no description; the next paragraph is.
func TestDeploymentNotes(t *testing.T) {
	for body, want := range map[string]string{
		"# x\nI have deployed this project on heruko:https://x-demo.herokuapp.com/\n\nTells pneumonia from a chest X-ray.\n": "Tells pneumonia from a chest X-ray.",
		"# x\nHosted on [Render](https://x.onrender.com).\n\nSplits a bill between friends.\n":                               "Splits a bill between friends.",
		"# x\nTry it at https://x.example.org\n":                                                                             "",
		"# x\nThe live version runs on https://x.fly.dev, try it.\n\nA chess clock for two phones.\n":                        "A chess clock for two phones.",
		// A description that also names the address says more.
		"# x\nA tide table for small harbours, deployed at https://tides.example.org. It reads the port's feed hourly.\n": "A tide table for small harbours, deployed at https://tides.example.org. It reads the port's feed hourly.",
		// Deployment words without an address describe the app.
		"# x\nLists the deployed services of a cluster with their health.\n": "Lists the deployed services of a cluster with their health.",
	} {
		if got := parseReadmeCard([]byte(body)).Description; got != want {
			t.Errorf("%q: description %q, want %q", body, got, want)
		}
	}
}

// TestProvenanceSentences: sentences at the end of a description that
// tell how the project came to be are dropped; the app's are kept.
func TestProvenanceSentences(t *testing.T) {
	for in, want := range map[string]string{
		"An example of a JSON API in Sinatra with Docker. It has been developed as part of a blog series on this topic.": "An example of a JSON API in Sinatra with Docker.",
		"Tracks lab samples. This project was built for a university course. It is written in Go.":                       "Tracks lab samples. This project was built for a university course. It is written in Go.",
		"Tracks lab samples. It runs in the browser. This app was made during a hackathon.":                              "Tracks lab samples. It runs in the browser.",
		"This project was built for a university course.":                                                                "This project was built for a university course.",
		"Shows the weather. It was developed with care and tested on phones.":                                            "Shows the weather. It was developed with care and tested on phones.",
	} {
		if got := proseOf(inline{text: in, plainLetters: letterCount(in)}); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
