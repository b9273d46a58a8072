#!/usr/bin/env bash
# Installs and starts what the tests need, so that `make test` works on a fresh
# Debian 12 machine. Idempotent: a second run finds everything in place.
#
#   as root:   apt-get installs what is missing (one apt-get update first),
#              creates the postgres system user if needed, starts dockerd
#   otherwise: prints what is missing and how to install it; with CI=true that
#              is an error, locally the tests that need it are skipped
#
# Environment: DOCKERD_LOG (default /var/log/dockerd.log), DOCKERD_WAIT
# (seconds to wait for the engine, default 60); DOCKER_PIDFILE and
# CONTAINERD_PIDFILE name the engine's pid files (defaults as dockerd's).
set -euo pipefail

docker_pidfile=${DOCKER_PIDFILE:-/var/run/docker.pid}
containerd_pidfile=${CONTAINERD_PIDFILE:-/var/run/docker/containerd/containerd.pid}

log() { printf 'test-deps: %s\n' "$*" >&2; }

# dockerd and useradd live in sbin, which a root shell's PATH may lack.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

is_root() { [ "$(id -u)" = 0 ]; }

in_ci() {
	case "${CI:-}" in true | TRUE | True | 1) return 0 ;; *) return 1 ;; esac
}

have() { command -v "$1" >/dev/null 2>&1; }

# PostgreSQL server binaries, found the way daemon/localpg finds them.
have_postgres() {
	if have initdb && have pg_ctl && have postgres; then return 0; fi
	local d
	for d in /usr/lib/postgresql/*/bin; do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then return 0; fi
	done
	return 1
}

if ! have go; then
	log "the Go toolchain is missing: install Go (see go.mod for the version) and put it on PATH"
	exit 1
fi

missing=()
add_missing() {
	local p
	for p in "${missing[@]:-}"; do [ "$p" = "$1" ] && return 0; done
	missing+=("$1")
}
have git || add_missing git
have tmux || add_missing tmux
have redis-server || add_missing redis-server
have dockerd || add_missing docker.io
have docker || add_missing docker.io
have chromium || add_missing chromium
have_postgres || add_missing postgresql
# Test images cannot be pulled (no registry): internal/testenv builds their
# base from the static busybox, so that RUN steps have a shell.
have_static_busybox() {
	if have dpkg-query; then
		dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed'
	else
		[ -x /bin/busybox ]
	fi
}
have_static_busybox || add_missing busybox-static
# The shell-completion test runs cobra's bash script, which needs it.
[ -f /usr/share/bash-completion/bash_completion ] || add_missing bash-completion

if [ "${#missing[@]}" -gt 0 ]; then
	if is_root && have apt-get; then
		log "installing: ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q
		apt-get install -y -q "${missing[@]}"
	else
		log "missing: ${missing[*]}"
		log "install them with: sudo apt-get update && sudo apt-get install -y ${missing[*]}"
		log "(macOS: brew install postgresql@15 redis tmux git, and Docker Desktop)"
		if in_ci; then exit 1; fi
		log "tests that need them will be skipped"
	fi
fi

# PostgreSQL refuses to run as root: the embedded cluster runs as `postgres`.
if is_root && ! id postgres >/dev/null 2>&1; then
	log "creating the postgres system user"
	useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi

# The Docker engine.
docker_ok() { timeout 20 docker info >/dev/null 2>&1; }

# alive PIDFILE NAME: the pid file names a live process called NAME.
alive() {
	local pid
	[ -f "$1" ] || return 1
	pid=$(cat "$1" 2>/dev/null || true)
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}

start_dockerd() {
	local logf=${DOCKERD_LOG:-/var/log/dockerd.log}
	local wait_s=${DOCKERD_WAIT:-60}
	local pid=""
	if alive "$docker_pidfile" dockerd; then
		log "dockerd (pid $(cat "$docker_pidfile")) runs but does not answer yet; waiting"
	else
		# Pid files left by an engine that was killed stop the next one from starting.
		if [ -f "$docker_pidfile" ]; then
			log "removing stale $docker_pidfile"
			rm -f "$docker_pidfile"
		fi
		if [ -f "$containerd_pidfile" ] && ! alive "$containerd_pidfile" containerd; then
			log "removing stale $containerd_pidfile"
			rm -f "$containerd_pidfile"
		fi
		log "starting dockerd (log: $logf)"
		# setsid: the engine outlives this script and is not hit by Ctrl-C in make.
		setsid dockerd >>"$logf" 2>&1 </dev/null &
		pid=$!
	fi
	local deadline=$((SECONDS + wait_s))
	until docker_ok; do
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			log "dockerd exited; the end of $logf:"
			tail -n 40 "$logf" >&2 || true
			return 1
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			log "the Docker engine did not answer within ${wait_s}s; the end of $logf:"
			tail -n 40 "$logf" >&2 || true
			return 1
		fi
		sleep 1
	done
	log "Docker engine ready"
}

if have docker && docker_ok; then
	:
elif is_root && have dockerd; then
	start_dockerd
else
	log "the Docker engine is not reachable (DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock})"
	log "start it with: sudo dockerd >/var/log/dockerd.log 2>&1 &   (or: sudo systemctl start docker)"
	if in_ci; then exit 1; fi
	log "tests that need Docker will be skipped"
fi
