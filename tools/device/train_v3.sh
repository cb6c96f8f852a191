#!/usr/bin/env bash
# Run THERE, in one GPU device call (it fits the 10-minute limit with the defaults):
# render issue 20's photo-look data (make_dataset.py --look photo: albedo targets,
# perspective, mostly front-facing views, photographic materials, thin frames) and
# continue the shipped maquette-ld-v3 on it (back colour = base colour, a delit
# front_albedo output, the normal term), retrain the view head, and leave in $OUT the
# checkpoint split below the 16 MB a returned file may have plus its fp16 warm start
# (weights only, < 16 MB: commit it under models/ only if it measures better than v3).
#
#   tools/device/pack.sh                      # here, first: fills .gl/ and .whl/
#   run(command="bash tools/device/train_v3.sh", carry=[".gl", ".whl"], timeout_s=600)
#   cat best_view.pt.part.* > best_view.pt    # here, from the call's files; then
#   python tools/export_onnx.py --checkpoint best_view.pt --data /work/data/v3photo2 ...
#
# Environment (defaults in brackets): RENDER_MIN [4.5] and TRAIN_MIN [6.5] minutes,
# WORKERS [13], BATCH [64], LR [5e-4], INIT [models/maquette-ld-v3.weights-fp16.pt],
# FIRST_SHARD [70: seed 3's shards 1-69 are what v3's two rounds trained on], SHARD_SIZE [250],
# LOOK [photo], SEED [3] (shard 0 of seed 3 is v3's validation set too),
# TRAIN_ARGS [--normal-weight 1 --front-albedo-weight 1], VIEW_SHARDS [40], DATA, RUN.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${OUT:?set OUT to the folder whose files come back}"
started=$(date +%s)

PY=${PYTHON:-python3}
export PYTHON=$PY
if ! "$PY" -c "import panda3d.core" 2>/dev/null; then
    if [ ! -d /usr/local/nvidia ]; then
        echo "no panda3d for $PY: set PYTHON=.venv/bin/python (make test's venv)" >&2
        exit 2
    fi
    # the lent machine: its NVIDIA driver and torch, none of our packages
    for f in .gl/*.deb; do dpkg -x "$f" /; done  # EGL/GL loaders (libglvnd)
    ldconfig
    mkdir -p /tmp/site
    tar -xJf .whl/site.tar.xz -C /tmp/site
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
vendor=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
if [ -f "$vendor" ]; then export __EGL_VENDOR_LIBRARY_FILENAMES=$vendor; fi
"$PY" -c "import panda3d.core, simplepbr, gltf, trimesh, torch; print('torch', \
torch.__version__, 'cuda', torch.cuda.is_available())" | tee "$OUT/train.log"

DATA=${DATA:-/tmp/ld128}
RUN=${RUN:-/tmp/run-v3}
INIT=${INIT:-models/maquette-ld-v3.weights-fp16.pt} FIRST_SHARD=${FIRST_SHARD:-70} \
LOOK=${LOOK:-photo} SEED=${SEED:-3} LR=${LR:-5e-4} \
TRAIN_ARGS=${TRAIN_ARGS:---normal-weight 1 --front-albedo-weight 1} \
    tools/train_on_gpu.sh "$DATA" "$RUN" "${WORKERS:-13}" "${RENDER_MIN:-4.5}" \
    "${TRAIN_MIN:-6.5}" 48,96,192,384 "${BATCH:-64}" 2>&1 | tee -a "$OUT/train.log"

# training shards of this run (all new objects: DATA starts empty), not shard 0
mapfile -t view_shards < <(ls "$DATA"/shard_*.npz | grep -v '/shard_00000\.npz$' |
                           head -n "${VIEW_SHARDS:-40}")
"$PY" tools/train_view_head.py --checkpoint "$RUN/best.pt" --out "$RUN/best_view.pt" \
    --train "${view_shards[@]}" --val "$DATA/shard_00000.npz" 2>&1 | tee -a "$OUT/train.log"
split -b 15M "$RUN/best_view.pt" "$OUT/best_view.pt.part."
"$PY" tools/make_warm_start.py "$RUN/best_view.pt" "$OUT/warm-start-fp16.pt" \
    2>&1 | tee -a "$OUT/train.log"
cp "$RUN/log.csv" "$RUN/curve.png" "$OUT/"
echo "done in $(( $(date +%s) - started )) s" | tee -a "$OUT/train.log"
