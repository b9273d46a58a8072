#!/usr/bin/env bash
# make demo: runs appstored on the embedded PostgreSQL (state in ./.demo),
# registers every app under examples/, lists them, and keeps the daemon running
# until Ctrl-C, when it stops it cleanly. Run `make build` first (make demo does).
#
# Environment:
#   APPSTORE_DEMO_ADDR   listen address (default 127.0.0.1:7070)
#   APPSTORE_DEMO_DATA   data directory (default .demo)
#   APPSTORE_DEMO_WAIT   seconds to wait for /healthz (default 120)
#   APPSTORE_DEMO_APPS   directory whose subdirectories are registered (default examples)
set -euo pipefail
cd "$(dirname "$0")/.."

addr=${APPSTORE_DEMO_ADDR:-127.0.0.1:7070}
data=${APPSTORE_DEMO_DATA:-.demo}
wait_s=${APPSTORE_DEMO_WAIT:-120}
apps=${APPSTORE_DEMO_APPS:-examples}
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
	if kill -0 "$pid" 2>/dev/null; then
		say "stopping appstored"
		kill -TERM "$pid" 2>/dev/null || true
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
if [ -d "$apps" ]; then
	for dir in "$apps"/*/; do
		[ -d "$dir" ] || continue
		path=$(cd "$dir" && pwd)
		set +e
		out=$(bin/appstore add "$path" 2>&1)
		rc=$?
		set -e
		case $rc in
		0) say "registered $path as $out" ;;
		5) say "$path is already registered" ;; # a second demo run
		*)
			printf '%s\n' "$out" >&2
			say "registering $path failed (exit $rc)"
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
	say "some examples could not be registered (see above)"
fi
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
