// Command notes is an appstore example: a notepad kept in memory.
package main

import (
	"html/template"
	"log"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

type note struct {
	Text string
	At   time.Time
}

var (
	mu    sync.Mutex
	notes []note
)

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Notes</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}li{margin:.5rem 0}</style></head>
<body><h1>Notes</h1>
<form method="post" action="/notes"><input name="text" maxlength="500" autofocus required placeholder="Write a note">
<button>Add</button></form>
<ul>{{range .}}<li>{{.Text}} <small>{{.At.Format "15:04:05"}}</small></li>{{else}}<li>No notes yet.</li>{{end}}</ul>
<p><small>Notes live in memory: they are gone when the container stops.</small></p></body></html>`))

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		list := append([]note(nil), notes...)
		mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		page.Execute(w, list)
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
		mu.Unlock()
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	log.Printf("notes listening on :%s", port)
	log.Fatal(http.ListenAndServe(":"+port, mux))
}
