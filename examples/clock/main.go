// Command clock is an appstore example: the time in a few cities.
package main

import (
	"html/template"
	"log"
	"net/http"
	"os"
	"time"
	_ "time/tzdata" // FROM scratch has no zoneinfo: embed it
)

var cities = []struct{ Name, Zone string }{
	{"San Francisco", "America/Los_Angeles"},
	{"New York", "America/New_York"},
	{"London", "Europe/London"},
	{"Berlin", "Europe/Berlin"},
	{"Nairobi", "Africa/Nairobi"},
	{"Tokyo", "Asia/Tokyo"},
	{"Sydney", "Australia/Sydney"},
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>World clock</title><meta http-equiv="refresh" content="30">
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}td{padding:.3rem 1rem}</style></head>
<body><h1>World clock</h1><table>{{range .}}<tr><td>{{.Name}}</td><td><b>{{.Time}}</b></td><td>{{.Day}}</td></tr>{{end}}</table></body></html>`))

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		type row struct{ Name, Time, Day string }
		var rows []row
		for _, c := range cities {
			loc, err := time.LoadLocation(c.Zone)
			if err != nil {
				continue
			}
			t := now.In(loc)
			rows = append(rows, row{c.Name, t.Format("15:04"), t.Format("Monday")})
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		page.Execute(w, rows)
	})
	log.Printf("clock listening on :%s", port)
	log.Fatal(http.ListenAndServe(":"+port, mux))
}
