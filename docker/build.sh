#!/bin/sh
# The Dockerfile's build steps, run by its RUN lines and replayed by .ci/docker-steps.sh
# outside a container: one source of truth for how the image's binary is built.
#
#   docker/build.sh deps   with only Cargo.toml and Cargo.lock copied: builds the
#                          dependencies, so a change in src/ does not rebuild them
#   docker/build.sh app    with the sources copied: builds the binary into ./bin/afterword
#
# AFTERWORD_BUILD_PROFILE picks cargo's profile: `release` (the default, the image's), or
# `dev` for CI's replay, which runs these same steps on a target folder the tests' build
# has filled (an optimised build of everything again would take CI's whole time budget).
set -eu

target_dir=${CARGO_TARGET_DIR:-target}
profile=${AFTERWORD_BUILD_PROFILE:-release}
case "$profile" in
release) out_dir=release ;;
dev) out_dir=debug ;;
*)
    echo "AFTERWORD_BUILD_PROFILE must be release or dev, not $profile" >&2
    exit 2
    ;;
esac

# A `main` for each bench the manifest names and that is not here: cargo reads every
# target it declares before it builds anything. The Dockerfile copies the benches'
# sources for the dependency step; this stands in for them after it (and for any bench
# added to the manifest but not to that COPY).
stub_benches() {
    mkdir -p benches
    for bench in $(sed -n '/^\[\[bench\]\]/,/^name/s/^name = "\(.*\)"/\1/p' Cargo.toml); do
        [ -e "benches/$bench.rs" ] || echo 'fn main() {}' >"benches/$bench.rs"
    done
}

case "${1:-}" in
deps)
    mkdir -p src
    : >src/lib.rs
    echo 'fn main() {}' >src/main.rs
    stub_benches
    cargo build --profile "$profile" --locked
    # The placeholders' build of this crate must not pass for the real one: cargo
    # compares file times, and COPY keeps the sources' (older) ones.
    cargo clean --profile "$profile" --locked --package afterword
    rm -rf src benches
    ;;
app)
    stub_benches
    cargo build --profile "$profile" --locked --bin afterword
    mkdir -p bin
    cp "$target_dir/$out_dir/afterword" bin/afterword
    ./bin/afterword --version
    ;;
*)
    echo "usage: docker/build.sh deps|app" >&2
    exit 2
    ;;
esac
