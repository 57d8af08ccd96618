#!/usr/bin/env bash
# Usage: tools/dist_train.sh CONFIG NUM_PROCESSES [train.py options]
# One process per GPU, or per CPU worker with the gloo backend when no GPU.
set -euo pipefail
CONFIG=$1
NPROC=$2
shift 2
PORT=${PORT:-29500}
PYTHON=${PYTHON:-python}
exec "$PYTHON" -m torch.distributed.run --nproc_per_node="$NPROC" \
    --master_port="$PORT" "$(dirname "$0")/train.py" "$CONFIG" \
    --launcher pytorch "$@"
