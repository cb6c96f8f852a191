#!/usr/bin/env bash
# Render the training set with many parallel workers while the GPU trains on it.
#
#   tools/train_on_gpu.sh DATA RUN [WORKERS] [RENDER_MIN] [TRAIN_MIN] [WIDTHS] [BATCH]
#
# WORKERS copies of tools/make_dataset.py (one 250-sample shard per process run, so
# Panda3D's per-object memory is recycled) render into DATA for RENDER_MIN minutes;
# tools/train_generator.py starts as soon as shard 0 (validation) and one training
# shard exist, picks up new shards at every evaluation and stops after TRAIN_MIN
# minutes (cosine schedule over that time). Checkpoints, log and curve go to RUN.
# A 4-sample smoke render runs first, so a machine without a working GL stops at once.
#
# To continue from a trained model instead of starting afresh (environment variables):
#   INIT=models/maquette-ld-v3.weights-fp16.pt   its weights (and widths) to start from
#   FIRST_SHARD=400   render training shards from this index on: objects it has not seen
#   LR=5e-4           peak learning rate (default 2e-3, for a fresh start)
#   TRAIN_ARGS="--normal-weight 1"   more options for tools/train_generator.py
#   SHARD_SIZE=250    renders per shard (a dry run here uses a few)
#   LOOK=photo SEED=3 the data's look and seed (make_dataset.py --look, --seed; default
#                     v2 and 0, v2's data)
set -u
DATA=$1
RUN=$2
WORKERS=${3:-13}
RENDER_MIN=${4:-6}
TRAIN_MIN=${5:-7}
WIDTHS=${6:-48,96,192,384}
BATCH=${7:-64}
PY=${PYTHON:-python3}
INIT=${INIT:-}
FIRST_SHARD=${FIRST_SHARD:-1}
LR=${LR:-2e-3}
TRAIN_ARGS=${TRAIN_ARGS:-}
LOOK=${LOOK:-v2}
SHARD_SIZE=${SHARD_SIZE:-250}
SEED=${SEED:-0}
cd "$(dirname "$0")/.."
mkdir -p "$DATA" "$RUN"

smoke=$(mktemp -d)
if ! $PY tools/make_dataset.py --out "$smoke" --count 4 --size 64 --shard-size 4 --views 2 \
        --seed 1 --quiet --look "$LOOK"; then
    echo "smoke render failed: no usable renderer here" >&2
    exit 3
fi
rm -rf "$smoke"

end=$(( $(date +%s) + $(awk "BEGIN{print int($RENDER_MIN * 60)}") ))
for k in $(seq 0 $((WORKERS - 1))); do
    ( while [ "$(date +%s)" -lt "$end" ]; do
          $PY tools/make_dataset.py --out "$DATA" --count 200000 --size 128 --seed "$SEED" \
              --views 4 --shard-size "$SHARD_SIZE" --worker "$k/$WORKERS" --max-shards 1 --quiet \
              --first-shard "$FIRST_SHARD" --look "$LOOK" \
              >>"$DATA/worker_$k.log" 2>&1 || break
      done ) &
done

$PY tools/train_generator.py --data "$DATA" --out "$RUN" --widths "$WIDTHS" \
    --batch "$BATCH" --lr "$LR" --threads 2 --steps 10000000 --max-minutes "$TRAIN_MIN" \
    --eval-every 300 --val-count 250 --wait-minutes 4 ${INIT:+--init "$INIT"} $TRAIN_ARGS
status=$?
pkill -f "tools/make_dataset.py --out $DATA" 2>/dev/null
kill $(jobs -p) 2>/dev/null
wait
ls "$DATA"/shard_*.npz 2>/dev/null | wc -l | xargs echo "shards rendered:"
exit $status
