#!/usr/bin/env bash
# Build and smoke-test the CPU image without a Docker engine or registry access:
#   1. debootstrap a minimal Debian bookworm rootfs (python3.11, venv, pip, CA certs, libgomp1),
#      cached as a tarball so reruns skip it;
#   2. import it as localhost/pocknet-base:bookworm (buildah from scratch + mount + commit);
#   3. copy the local CPU torch wheel into docker/wheels/ and `buildah bud` docker/Dockerfile
#      with BASE_IMAGE=localhost/pocknet-base:bookworm and TORCH_WHEEL=wheels/<wheel>;
#   4. run `pocknet --help`, `pocknet info`, import checks and `pocknet predict` on a
#      p2rank-test structure inside the image (as its non-root user), print the predictions
#      CSV head, the build time and the image size.
#
# Needs root (debootstrap, buildah mount), buildah and debootstrap:
#   apt-get install -y buildah debootstrap
# Usage: docker/build-local.sh            (from anywhere; rerunnable)
# Environment knobs (defaults in brackets):
#   POCKNET_DOCKER_CACHE   rootfs tarball cache [${XDG_CACHE_HOME:-~/.cache}/pocknet-docker]
#   DEBIAN_MIRROR          [http://deb.debian.org/debian]
#   TORCH_WHEEL_SRC        CPU torch wheel [/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl]
#   IMAGE_TAG              [localhost/pocknet:cpu]
#   SMOKE_PDB              [${POCKNET_DATASETS:-../shared/datasets}/p2rank-test/1fbl.pdb, else data/01_raw/p2rank-test/1fbl.pdb]
#   STORAGE_DRIVER         containers/storage driver [vfs: works in nested containers without overlay]
#   REBUILD_BASE=1         re-import the base image; REBOOTSTRAP=1 also re-runs debootstrap
#   BUILD_LAYERS=false     disable buildah's layer cache (default true: fast reruns)
#   HOST_CA_BUNDLE         CA bundle trusted by pip during the build [/etc/ssl/certs/ca-certificates.crt];
#                          empty: the image's own. Machines behind a TLS-intercepting egress proxy
#                          need the host's bundle. It is bind-mounted into the RUN steps only
#                          (buildah bud -v), never copied into a layer.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE_DIR=${POCKNET_DOCKER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pocknet-docker}
ROOTFS_TAR=$CACHE_DIR/debian-$SUITE-minbase-python3.tar
BASE_TAG=localhost/pocknet-base:$SUITE
IMAGE_TAG=${IMAGE_TAG:-localhost/pocknet:cpu}
TORCH_WHEEL_SRC=${TORCH_WHEEL_SRC:-/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl}
BUILD_LAYERS=${BUILD_LAYERS:-true}
export STORAGE_DRIVER=${STORAGE_DRIVER:-vfs}
export BUILDAH_ISOLATION=chroot
INCLUDE_PKGS=python3,python3-venv,python3-pip,ca-certificates,libgomp1
HOST_CA_BUNDLE=${HOST_CA_BUNDLE-/etc/ssl/certs/ca-certificates.crt}

if [[ -z "${SMOKE_PDB:-}" ]]; then
  for candidate in "${POCKNET_DATASETS:-$REPO/../shared/datasets}/p2rank-test/1fbl.pdb" "$REPO/data/01_raw/p2rank-test/1fbl.pdb"; do
    if [[ -f $candidate ]]; then SMOKE_PDB=$candidate; break; fi
  done
fi

die() { echo "build-local: $*" >&2; exit 1; }
step() { printf '\n==> %s\n' "$*"; }

[[ $(id -u) -eq 0 ]] || die "run as root (debootstrap and buildah mount need it)"
for tool in buildah debootstrap tar; do
  command -v "$tool" >/dev/null || die "$tool not found: apt-get install -y buildah debootstrap"
done
[[ -f $TORCH_WHEEL_SRC ]] || die "torch wheel $TORCH_WHEEL_SRC not found (set TORCH_WHEEL_SRC)"
[[ -n "${SMOKE_PDB:-}" && -f $SMOKE_PDB ]] || die "no structure for the smoke test (set SMOKE_PDB)"

bah() { buildah --storage-driver "$STORAGE_DRIVER" "$@"; }

# Working containers created here are removed on exit, also on failure.
CONTAINERS=()
TMP_DIRS=()
cleanup() {
  local c
  for c in "${TMP_DIRS[@]}"; do rm -rf "$c"; done
  for c in "${CONTAINERS[@]}"; do
    bah umount "$c" >/dev/null 2>&1 || true
    bah rm "$c" >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT

T0=$(date +%s)

# ------------------------------------------------------------------ 1. rootfs (cached)
if [[ ${REBOOTSTRAP:-0} == 1 ]]; then rm -f "$ROOTFS_TAR"; fi
if [[ -s $ROOTFS_TAR ]]; then
  step "rootfs: cached $ROOTFS_TAR ($(du -h "$ROOTFS_TAR" | cut -f1))"
else
  step "rootfs: debootstrap --variant=minbase $SUITE from $MIRROR"
  mkdir -p "$CACHE_DIR"
  work=$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")
  t=$(date +%s)
  debootstrap --variant=minbase --include="$INCLUDE_PKGS" "$SUITE" "$work/rootfs" "$MIRROR"
  # image hygiene: no package caches/lists, no host-specific files
  rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/* \
         "$work"/rootfs/var/log/* "$work"/rootfs/tmp/* "$work"/rootfs/root/.cache
  : > "$work/rootfs/etc/hostname"
  : > "$work/rootfs/etc/resolv.conf"
  tar --numeric-owner --xattrs -C "$work/rootfs" -cf "$ROOTFS_TAR.partial" .
  mv "$ROOTFS_TAR.partial" "$ROOTFS_TAR"
  rm -rf "$work"
  echo "debootstrap + tarball: $(( $(date +%s) - t ))s, $(du -h "$ROOTFS_TAR" | cut -f1)"
fi

# ------------------------------------------------------------------ 2. base image
if [[ ${REBUILD_BASE:-0} == 1 || ${REBOOTSTRAP:-0} == 1 ]]; then
  bah rmi -f "$BASE_TAG" >/dev/null 2>&1 || true
fi
if bah inspect --type image "$BASE_TAG" >/dev/null 2>&1; then
  step "base image: $BASE_TAG exists"
else
  step "base image: importing rootfs as $BASE_TAG"
  ctr=$(bah from scratch)
  CONTAINERS+=("$ctr")
  mnt=$(bah mount "$ctr")
  tar --numeric-owner --xattrs -C "$mnt" -xf "$ROOTFS_TAR"
  bah umount "$ctr" >/dev/null
  bah config \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 \
    --cmd /bin/bash \
    --label org.opencontainers.image.description="debootstrap --variant=minbase $SUITE + $INCLUDE_PKGS" \
    "$ctr"
  bah commit --rm "$ctr" "$BASE_TAG" >/dev/null
  CONTAINERS=()
fi

# ------------------------------------------------------------------ 3. image build
step "torch wheel -> docker/wheels/"
wheel_name=$(basename "$TORCH_WHEEL_SRC")
mkdir -p "$REPO/docker/wheels"
if ! cmp -s "$TORCH_WHEEL_SRC" "$REPO/docker/wheels/$wheel_name"; then
  cp "$TORCH_WHEEL_SRC" "$REPO/docker/wheels/$wheel_name"
fi
ls -l "$REPO/docker/wheels/"

step "buildah bud -> $IMAGE_TAG"
build_cmd=(buildah --storage-driver "$STORAGE_DRIVER" bud --isolation chroot --layers="$BUILD_LAYERS" --force-rm
  --build-arg BASE_IMAGE="$BASE_TAG"
  --build-arg TORCH_WHEEL="wheels/$wheel_name")
if [[ -n $HOST_CA_BUNDLE ]]; then
  [[ -f $HOST_CA_BUNDLE ]] || die "HOST_CA_BUNDLE=$HOST_CA_BUNDLE not found (empty: use the image's bundle)"
  pipconf=$(mktemp -d)
  TMP_DIRS+=("$pipconf")
  printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\ntimeout = 180\n' > "$pipconf/pip.conf"
  build_cmd+=(-v "$HOST_CA_BUNDLE:/etc/ssl/certs/ca-certificates.crt:ro" -v "$pipconf:/etc/xdg/pip:ro")
fi
build_cmd+=(-t "$IMAGE_TAG" -f docker/Dockerfile .)
echo "+ (cd $REPO && ${build_cmd[*]})"
tb=$(date +%s)
(cd "$REPO" && "${build_cmd[@]}")
BUILD_S=$(( $(date +%s) - tb ))

# ------------------------------------------------------------------ 4. smoke test
step "smoke test in $IMAGE_TAG (structure: $SMOKE_PDB)"
ctr=$(bah from --pull=never "$IMAGE_TAG")
CONTAINERS+=("$ctr")
pdb_name=$(basename "$SMOKE_PDB")
# /data is a VOLUME in the image; buildah run gives it a fresh scratch volume, so the
# input goes to a plain folder that belongs to the image's non-root user
bah copy --chown pocknet:pocknet "$ctr" "$SMOKE_PDB" "/home/pocknet/in/$pdb_name" >/dev/null
brun() { bah run --isolation chroot "$ctr" -- "$@"; }

echo "--- id"
brun id
echo "--- pocknet --help (head)"
help_text=$(brun pocknet --help)
head -n 15 <<<"$help_text"
echo "--- pocknet --version; pocknet info"
brun pocknet --version
brun pocknet info
echo "--- imports (torch, lightning, kedro, dvc, esm, gemmi, h5py)"
brun python -c '
import os, torch, lightning, kedro, dvc, esm, gemmi, h5py, sklearn, Bio
print("torch", torch.__version__, "| cuda build:", torch.version.cuda, "| threads:", torch.get_num_threads())
print("lightning", lightning.__version__, "| kedro", kedro.__version__, "| dvc", dvc.__version__)
print("TORCH_HOME", os.environ["TORCH_HOME"], "| hub dir", torch.hub.get_dir())
'
echo "--- pocknet predict /home/pocknet/in/$pdb_name -o /home/pocknet/out"
tp=$(date +%s)
brun pocknet predict "/home/pocknet/in/$pdb_name" -o /home/pocknet/out
PREDICT_S=$(( $(date +%s) - tp ))
echo "--- outputs"
brun ls -l /home/pocknet/out
csv="/home/pocknet/out/${pdb_name}_predictions.csv"   # P2Rank naming: <file name>_predictions.csv
echo "--- head $csv"
brun head -n 6 "$csv"

# ------------------------------------------------------------------ summary
step "summary"
echo "date:             $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "image build:      ${BUILD_S}s (buildah bud, layers=$BUILD_LAYERS)"
echo "predict (smoke):  ${PREDICT_S}s"
echo "script total:     $(( $(date +%s) - T0 ))s"
bah images --filter "reference=$IMAGE_TAG" --filter "reference=$BASE_TAG"
