#!/usr/bin/env bash
# Make sure the Debian/Ubuntu packages for headless rendering (and the web page's
# tests) are installed.
# As root: installs what is missing. Otherwise: prints the exact command and fails.
set -euo pipefail

packages=(libegl1 libgl1 libegl-mesa0 libgl1-mesa-dri)
# assimp-utils: the independent reader that tests check every asset export with
# (tests skip those checks where it is missing).
packages+=(assimp-utils)
# chromium: the browser the web page's tests drive (Playwright with the system browser);
# node + npm: Khronos glTF-Validator (npm package) checks the page's GLB.
packages+=(chromium)
# xvfb: a real X window for the viewer's window tests (key events, drag and drop over
# XDND); they skip where it is missing.
packages+=(xvfb)
if ! command -v npm >/dev/null 2>&1; then
    packages+=(nodejs npm)
fi
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    packages+=(python3-venv)
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "system_deps: not a Debian/Ubuntu system; make sure EGL and Mesa (or a GPU driver) are installed." >&2
    exit 0
fi

missing=()
for pkg in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
    echo "system_deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
    echo "Maquette needs these system packages for headless rendering: ${missing[*]}" >&2
    echo "Run:  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi
