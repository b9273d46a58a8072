#!/usr/bin/env bash
# make demo: runs appstored on the embedded PostgreSQL (state in ./.demo),
# registers every app under examples/ and, when the Docker engine answers,
# waits until each is ingested and its image built (build logs stream to the
# terminal), lists them, and keeps the daemon running until Ctrl-C, when it
# stops it cleanly. Run `make build` first (make demo does).
#
# An app directory that is a Git repository is registered as it is. An
# example with a main.go is compiled first (CGO_ENABLED=0 go build -o app:
# the Dockerfiles are FROM scratch + that binary, so builds need no network)
# and copied, binary included, into a Git repository of its own under
# $APPSTORE_DEMO_DATA/repos/<name>, committed when it changed; that
# repository is what gets registered, so ingestion reads a real clone.
#
# Environment:
#   APPSTORE_DEMO_ADDR   listen address (default 127.0.0.1:7070)
#   APPSTORE_DEMO_DATA   data directory (default .demo)
#   APPSTORE_DEMO_WAIT   seconds to wait for /healthz (default 120)
#   APPSTORE_DEMO_APPS   directory whose subdirectories are registered (default examples)
#   APPSTORE_DEMO_TIMEOUT  how long to wait for each app's ingestion and build (default 10m)
#   GO                   the go command that compiles the examples (default go)
set -euo pipefail
cd "$(dirname "$0")/.."

addr=${APPSTORE_DEMO_ADDR:-127.0.0.1:7070}
data=${APPSTORE_DEMO_DATA:-.demo}
wait_s=${APPSTORE_DEMO_WAIT:-120}
apps=${APPSTORE_DEMO_APPS:-examples}
build_timeout=${APPSTORE_DEMO_TIMEOUT:-10m}
go=${GO:-go}
export APPSTORE_URL="http://$addr"

say() { printf 'demo: %s\n' "$*" >&2; }

for b in bin/appstored bin/appstore; do
	if [ ! -x "$b" ]; then
		say "$b is missing: run make build (make demo does)"
		exit 1
	fi
done

# healthz: GET /healthz answers 200. Bash's /dev/tcp, so that no HTTP client
# needs to be installed.
healthz() {
	(
		host=${addr%:*} port=${addr##*:}
		exec 3<>"/dev/tcp/$host/$port" || exit 1
		printf 'GET /healthz HTTP/1.0\r\nHost: %s\r\n\r\n' "$addr" >&3
		IFS= read -r -t 5 status <&3 || exit 1
		[[ $status == HTTP/*" 200"* ]]
	) 2>/dev/null
}

# docker_ready: /readyz says the Docker engine answers, so builds can run.
docker_ready() {
	(
		host=${addr%:*} port=${addr##*:}
		exec 3<>"/dev/tcp/$host/$port" || exit 1
		printf 'GET /readyz HTTP/1.0\r\nHost: %s\r\n\r\n' "$addr" >&3
		grep -q '"docker":{"ok":true' <&3
	) 2>/dev/null
}

# example_repo DIR: sets repo_path to the Git repository to register for the
# app in DIR (see the top of this file), and changed=1 when it got a new
# commit.
example_repo() {
	local dir=$1 name repo
	changed=0
	if [ -e "$dir/.git" ] || [ ! -f "$dir/main.go" ]; then
		repo_path=$(cd "$dir" && pwd)
		return
	fi
	name=$(basename "$dir")
	say "compiling $dir (CGO_ENABLED=0 $go build)"
	# Called from a condition, where set -e is off: every step checks.
	(cd "$dir" && CGO_ENABLED=0 GOOS=linux "$go" build -trimpath -ldflags='-s -w' -o app .) >&2 || return 1
	repo="$data/repos/$name"
	mkdir -p "$repo" || return 1
	[ -d "$repo/.git" ] || git -C "$repo" init -q -b main || return 1
	# Mirror the example into the repository, .git aside.
	find "$repo" -mindepth 1 -maxdepth 1 ! -name .git -exec rm -rf {} + || return 1
	cp -a "$dir/." "$repo/" || return 1
	git -C "$repo" add -A || return 1
	if ! git -C "$repo" rev-parse -q --verify HEAD >/dev/null || ! git -C "$repo" diff --cached --quiet; then
		git -C "$repo" -c user.name="appstore demo" -c user.email=demo@appstore.invalid \
			commit -q -m "demo: $dir with its compiled binary" || return 1
		changed=1
	fi
	repo_path=$(cd "$repo" && pwd)
}

# A fresh machine: install and start what the demo needs (Git, PostgreSQL's
# binaries for the embedded cluster, the Docker engine for builds and
# launches) with the test dependencies' script, which apt-get installs as
# root and otherwise says what to install.
demo_deps_ok() {
	command -v git >/dev/null 2>&1 || return 1
	command -v docker >/dev/null 2>&1 && timeout 20 docker info >/dev/null 2>&1 || return 1
	command -v initdb >/dev/null 2>&1 && return 0
	compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}
if ! demo_deps_ok; then
	if [ -f scripts/test-deps.sh ]; then
		say "installing or starting what is missing (scripts/test-deps.sh)"
		bash scripts/test-deps.sh || say "scripts/test-deps.sh failed; going on with what there is"
	else
		say "Git, PostgreSQL or a running Docker engine is missing: builds and launches may not work"
	fi
fi

mkdir -p "$data"
pidfile="$data/appstored.pid"
logfile="$data/appstored.log"

# A demo daemon left behind by a killed run: stop it, so that a second run works.
if [ -f "$pidfile" ]; then
	old=$(cat "$pidfile" 2>/dev/null || true)
	if [ -n "$old" ] && [ "$(cat "/proc/$old/comm" 2>/dev/null)" = appstored ]; then
		say "stopping the appstored (pid $old) of a previous demo"
		kill -TERM "$old" 2>/dev/null || true
		for _ in $(seq 300); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$old" 2>/dev/null || true
	fi
	rm -f "$pidfile"
fi
if healthz; then
	say "something already answers on $addr: stop it, or set APPSTORE_DEMO_ADDR"
	exit 1
fi

say "starting appstored on http://$addr with data in $data (log: $logfile)"
# Its own session: Ctrl-C reaches this script only, which then stops the
# daemon once, with SIGTERM, and waits for its clean shutdown.
setsid bin/appstored --addr "$addr" --data-dir "$data" >>"$logfile" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$pidfile"

stop() {
	trap - INT TERM EXIT
	# Output may go to a pipe whose reader Ctrl-C ended too (make demo | tee
	# log): writing to it must not kill this script before the daemon stops.
	trap '' PIPE
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		say "stopping appstored and the apps it launched" || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -f "$pidfile"
}
trap 'stop; exit 1' EXIT
trap 'stop; exit 0' INT TERM

deadline=$((SECONDS + wait_s))
until healthz; do
	if ! kill -0 "$pid" 2>/dev/null; then
		say "appstored exited; the end of $logfile:"
		tail -n 30 "$logfile" >&2
		exit 1
	fi
	if [ "$SECONDS" -ge "$deadline" ]; then
		say "appstored did not answer /healthz within ${wait_s}s; the end of $logfile:"
		tail -n 30 "$logfile" >&2
		exit 1
	fi
	sleep 0.2
done
say "appstored is up"

failed=0
wait_flags=()
if docker_ready; then
	# Ingestion steps and build logs stream to the terminal (stderr).
	wait_flags=(--wait --timeout "$build_timeout")
else
	say "the Docker engine does not answer (see /readyz): the apps are registered but not built;"
	say "start dockerd (or set DOCKER_HOST for appstored), then: bin/appstore build <slug> --wait"
fi
# What a previous run registered: asking again would only print an error.
registered=$(bin/appstore list --json --jq '.[].git_url' 2>/dev/null || true)
if [ -d "$apps" ]; then
	for dir in "$apps"/*/; do
		[ -d "$dir" ] || continue
		dir=${dir%/}
		if ! example_repo "$dir"; then
			say "preparing $dir failed"
			failed=1
			continue
		fi
		path=$repo_path
		if printf '%s\n' "$registered" | grep -qxF "file://$path"; then
			rc=5
		else
			set +e
			slug=$(bin/appstore add "$path" "${wait_flags[@]}")
			rc=$?
			set -e
		fi
		case $rc in
		0) say "registered $path as $slug${wait_flags[0]:+ and built it}" ;;
		5)
			say "$path is already registered" # a second demo run
			if [ "$changed" = 1 ]; then
				slug=$(bin/appstore list --json --jq ".[] | select(.git_url == \"file://$path\") | .slug")
				say "$path has a new commit: refreshing $slug"
				bin/appstore refresh "$slug" "${wait_flags[@]}" >/dev/null || failed=1
			fi
			;;
		*)
			if [ -n "$slug" ]; then
				say "registered $path as $slug, but its ingestion or build failed (exit $rc, see above)"
			else
				say "registering $path failed (exit $rc)"
			fi
			failed=1
			;;
		esac
	done
else
	say "no $apps/ directory: nothing to register"
fi

echo
bin/appstore list
echo
if [ "$failed" != 0 ]; then
	say "some examples could not be registered or built (see above)"
fi
# Launch one built app (hello if it built) and print its preview URL.
launched=""
if [ "${#wait_flags[@]}" -gt 0 ]; then
	built=$(bin/appstore list --json --jq '.[] | select(.latest_build.status == "succeeded") | .slug' 2>/dev/null || true)
	pick=$(printf '%s\n' "$built" | grep -x hello || printf '%s\n' "$built" | head -n 1)
	if [ -n "$pick" ]; then
		say "launching $pick"
		set +e
		url=$(bin/appstore launch "$pick" --no-open)
		rc=$?
		set -e
		if [ "$rc" = 0 ] && [ -n "$url" ]; then
			launched=$pick
			echo
			say "$pick is running at $url"
			say "(also at $APPSTORE_URL/apps/$pick/; *.localhost is the loopback in browsers and curl)"
		else
			say "launching $pick failed (exit $rc, see above)"
			failed=1
		fi
	else
		say "no app was built, so none is launched"
	fi
fi
echo
say "next, try (APPSTORE_URL=$APPSTORE_URL):"
if [ -n "$launched" ]; then
	printf '  curl -s %s\n' "$url" >&2
	printf '  bin/appstore ps\n' >&2
	printf '  bin/appstore logs %s --app -f\n' "$launched" >&2
	printf '  bin/appstore stop %s\n' "$launched" >&2
fi
printf '  bin/appstore list --tag demo:true\n' >&2
printf '  bin/appstore launch <slug>      # starts an app and opens it in the browser\n' >&2
printf '  bin/appstore show <slug>\n' >&2
say "appstored runs at $APPSTORE_URL; try: APPSTORE_URL=$APPSTORE_URL bin/appstore list"
say "press Ctrl-C to stop it"

# wait returns when a trapped signal arrives (the trap stops the daemon) or
# when appstored exits by itself.
set +e
wait "$pid"
rc=$?
set -e
trap - EXIT INT TERM
rm -f "$pidfile"
say "appstored exited by itself (status $rc); the end of $logfile:"
tail -n 30 "$logfile" >&2
exit 1
