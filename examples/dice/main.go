// Command dice is an appstore example: dice rolls and passphrases.
package main

import (
	"crypto/rand"
	"fmt"
	"html/template"
	"log"
	"math/big"
	"net/http"
	"os"
	"strconv"
	"strings"
)

var words = strings.Fields(`acorn amber anchor apple arrow aspen badge basil beacon birch bison blossom breeze brook
cactus canyon cedar cherry cinder clover cobalt comet coral cricket daisy delta dune ember falcon fern fjord
flint forest galaxy garnet geyser ginger glacier harbor hazel heron island ivory jasper juniper kayak kelp
lagoon lantern lemon lilac lotus maple meadow meteor mint moss nectar nebula oasis olive onyx orchid otter
pebble pepper pine plum prairie quartz quill raven reef river saffron sage sequoia shadow sparrow spruce
summit thistle thunder tulip tundra valley velvet violet walnut willow zephyr`)

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Dice</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}.roll{font-size:2rem}</style></head>
<body><h1>Dice</h1>
<form><input name="dice" value="{{.Dice}}" size="6"> <button>Roll</button></form>
<p class="roll">{{.Rolls}} = <b>{{.Sum}}</b></p>
<h2>Passphrase</h2><p><code>{{.Passphrase}}</code></p></body></html>`))

func roll(n int) int {
	v, _ := rand.Int(rand.Reader, big.NewInt(int64(n)))
	return int(v.Int64()) + 1
}

// parseDice reads "3d6": how many dice and how many sides.
func parseDice(s string) (count, sides int, err error) {
	c, sd, ok := strings.Cut(strings.ToLower(s), "d")
	if !ok {
		return 0, 0, fmt.Errorf("want dice like 3d6")
	}
	if count, err = strconv.Atoi(c); err != nil || count < 1 || count > 20 {
		return 0, 0, fmt.Errorf("roll 1 to 20 dice")
	}
	if sides, err = strconv.Atoi(sd); err != nil || sides < 2 || sides > 1000 {
		return 0, 0, fmt.Errorf("dice have 2 to 1000 sides")
	}
	return count, sides, nil
}

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		dice := r.FormValue("dice")
		if dice == "" {
			dice = "2d6"
		}
		count, sides, err := parseDice(dice)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var rolls []string
		sum := 0
		for range count {
			v := roll(sides)
			sum += v
			rolls = append(rolls, strconv.Itoa(v))
		}
		var phrase []string
		for range 5 {
			phrase = append(phrase, words[roll(len(words))-1])
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		page.Execute(w, map[string]any{"Dice": dice, "Rolls": strings.Join(rolls, " + "), "Sum": sum, "Passphrase": strings.Join(phrase, "-")})
	})
	log.Printf("dice listening on :%s", port)
	log.Fatal(http.ListenAndServe(":"+port, mux))
}
