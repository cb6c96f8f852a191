#!/usr/bin/env bash
# Run HERE (a machine that reaches PyPI and Debian's archive) before a GPU device call:
# packs what the lent machine lacks to run Maquette's training tools into two
# git-ignored folders that the call carries (`carry: [".gl", ".whl"]`):
#
#   .gl/              libglvnd's EGL/GL loaders, Debian amd64 packages (unpacked over /
#                     there; the NVIDIA driver's EGL vendor library does the rendering)
#   .whl/site.tar.xz  panda3d, panda3d-gltf, panda3d-simplepbr and trimesh for that
#                     machine's CPython 3.12, without what training never loads (video,
#                     assimp, software rendering, physics, audio, tools): the full
#                     panda3d wheel (54 MB) and the repository together would not fit
#                     a call's 64 MiB (the same trimming of the cp311 wheel renders
#                     make_dataset.py's shards here, through EGL)
#
# tools/device/train_v3.sh, run THERE, unpacks both. Versions follow pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/../.."
for path in /.gl/ /.whl/; do
    grep -qxF "$path" .git/info/exclude 2>/dev/null || echo "$path" >>.git/info/exclude
done

if ! ls .gl/libegl1_*.deb >/dev/null 2>&1; then
    mkdir -p .gl /tmp/amd64/partial
    o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
    # shellcheck disable=SC2086
    apt-get $o update -qq
    # shellcheck disable=SC2086
    (cd .gl && apt-get $o download libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi

PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
pin() {  # the version pyproject.toml pins, else the one installed here (make test's venv)
    grep -oE "\"$1==[^\"]+\"" pyproject.toml | head -1 | tr -d '"' | grep . ||
        "$PY" -c "import importlib.metadata as m; print('$1==' + m.version('$1'))"
}
wheels=$(mktemp -d)
stage=$(mktemp -d)
trap 'rm -rf "$wheels" "$stage"' EXIT
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux_2_28_x86_64 -d "$wheels" \
    "$(pin panda3d)" "$(pin panda3d-gltf)" "$(pin panda3d-simplepbr)" "$(pin trimesh)"
for w in "$wheels"/*.whl; do python3 -m zipfile -e "$w" "$stage"; done
rm -rf "$stage"/panda3d_tools "$stage"/deploy_libs "$stage"/pandac/input
rm -f "$stage"/panda3d/libp3ffmpeg.so "$stage"/panda3d/libp3assimp.so \
    "$stage"/panda3d/libp3tinydisplay.so "$stage"/panda3d/libpandabullet.so* \
    "$stage"/panda3d/libpandaode.so* "$stage"/panda3d/libp3openal_audio.so \
    "$stage"/panda3d/libp3fmod_audio.so "$stage"/panda3d/bullet.cpython-* \
    "$stage"/panda3d/ode.cpython-*
mkdir -p .whl
tar -C "$stage" -cJf .whl/site.tar.xz.part .
mv .whl/site.tar.xz.part .whl/site.tar.xz
du -h .whl/site.tar.xz .gl
