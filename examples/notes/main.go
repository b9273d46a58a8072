// Command notes is an appstore example: a notepad whose notes outlive its
// container. It keeps them in $NOTES_DIR/notes.json (default /data, the
// directory tags.yaml declares as storage: appstore mounts the app's own
// volume there), and in memory alone when that directory cannot be
// written.
package main

import (
	"encoding/json"
	"html/template"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

type note struct {
	Text string    `json:"text"`
	At   time.Time `json:"at"`
}

var (
	mu    sync.Mutex
	notes []note
	// file is where notes are saved; "" keeps them in memory only.
	file string
)

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Notes</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}li{margin:.5rem 0}</style></head>
<body><h1>Notes</h1>
<form method="post" action="notes"><input name="text" maxlength="500" autofocus required placeholder="Write a note">
<button>Add</button></form>
<ul>{{range .Notes}}<li>{{.Text}} <small>{{.At.Format "15:04:05"}}</small></li>{{else}}<li>No notes yet.</li>{{end}}</ul>
<p><small>{{if .Saved}}Notes are saved in {{.Saved}}: they survive restarts.{{else}}Notes live in memory: they are gone when the container stops.{{end}}</small></p></body></html>`))

// load reads the saved notes and checks that dir can be written; it
// returns the file to save to, or "" to keep notes in memory.
func load(dir string) string {
	if dir == "" {
		return ""
	}
	f := filepath.Join(dir, "notes.json")
	probe := filepath.Join(dir, ".write-test")
	if err := os.WriteFile(probe, nil, 0o600); err != nil {
		log.Printf("notes: %s cannot be written (%v): notes are kept in memory only", dir, err)
		return ""
	}
	os.Remove(probe)
	data, err := os.ReadFile(f)
	switch {
	case os.IsNotExist(err):
	case err != nil:
		log.Printf("notes: read %s: %v", f, err)
	default:
		if err := json.Unmarshal(data, &notes); err != nil {
			log.Printf("notes: %s is not a list of notes (%v): starting empty", f, err)
		}
	}
	log.Printf("notes: %d notes loaded from %s", len(notes), f)
	return f
}

// save writes the notes atomically (a new file renamed over the old one).
func save(list []note) error {
	if file == "" {
		return nil
	}
	data, err := json.Marshal(list)
	if err != nil {
		return err
	}
	tmp := file + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	dir, ok := os.LookupEnv("NOTES_DIR")
	if !ok {
		dir = "/data"
	}
	file = load(dir)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		list := append([]note(nil), notes...)
		mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		page.Execute(w, struct {
			Notes []note
			Saved string
		}{list, file})
	})
	mux.HandleFunc("GET /notes.json", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(append([]note{}, notes...))
	})
	mux.HandleFunc("POST /notes", func(w http.ResponseWriter, r *http.Request) {
		text := strings.TrimSpace(r.FormValue("text"))
		if text == "" || len(text) > 500 {
			http.Error(w, "a note is 1 to 500 characters", http.StatusBadRequest)
			return
		}
		mu.Lock()
		notes = append([]note{{Text: text, At: time.Now()}}, notes...)
		if len(notes) > 100 {
			notes = notes[:100]
		}
		err := save(notes)
		mu.Unlock()
		if err != nil {
			log.Printf("notes: save: %v", err)
			http.Error(w, "the note could not be saved", http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "./", http.StatusSeeOther)
	})
	log.Printf("notes listening on :%s", port)
	log.Fatal(http.ListenAndServe(":"+port, mux))
}
