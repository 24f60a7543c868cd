#!/usr/bin/env bash
# Re-vendor 3Dmol.js for the offline pocket viewer (pocknet.predict.viewer) from the npm registry.
#
#   src/pocknet/predict/vendor/vendor.sh            # the pinned version below
#   VERSION=2.5.6 src/pocknet/predict/vendor/vendor.sh   # another one (then update the pin here)
#
# Writes, beside this script: 3Dmol-min.js and its banner 3Dmol-min.js.LICENSE.txt (the package's
# build/ files, unchanged),
# LICENSE (3Dmol.js's own: BSD-3-Clause, with GLmol, three.js and jQuery) and
# THIRD_PARTY_LICENSES (the npm packages bundled into 3Dmol-min.js: iobuffer, netcdfjs, pako,
# upng-js), and prints the sha256 to record in README.md. `npm pack` checks each tarball
# against the registry's integrity hash. Needs npm and network; nothing else here does.
set -euo pipefail
VERSION="${VERSION:-2.5.5}"   # the pin (README.md and tests/test_viewer.py agree)
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "3dmol@${VERSION}" >/dev/null
tar xzf "3dmol-${VERSION}.tgz"
grep -q "3dmol v${VERSION}" package/build/3Dmol-min.js.LICENSE.txt || { echo "unexpected build banner" >&2; exit 1; }
cp package/build/3Dmol-min.js package/build/3Dmol-min.js.LICENSE.txt "$here/"
cp package/LICENSE "$here/LICENSE"
{
  echo "Packages bundled into 3Dmol-min.js: 3dmol ${VERSION}'s npm dependencies, at the versions its ranges"
  echo "resolve to on the registry when this file was written, with their licences."
  node -e 'const d=require("./package/package.json").dependencies;for(const k of Object.keys(d).sort())console.log(k+"@"+d[k])' |
  while read -r spec; do
    mkdir -p "dep" && rm -rf dep/* && (cd dep && npm pack --silent "$spec" >/dev/null && tar xzf ./*.tgz)
    name="$(node -e 'const p=require("./dep/package/package.json");console.log(p.name+" "+p.version+" ("+p.license+")")')"
    echo
    echo "==== ${name} ===="
    cat dep/package/LICENSE*
  done
} > "$here/THIRD_PARTY_LICENSES"
echo "vendored 3dmol ${VERSION}: sha256 $(sha256sum "$here/3Dmol-min.js" | cut -d' ' -f1)"
