#!/usr/bin/env bash
# Usage: tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCESSES [test.py options]
set -euo pipefail
CONFIG=$1
CHECKPOINT=$2
NPROC=$3
shift 3
PORT=${PORT:-29500}
PYTHON=${PYTHON:-python}
exec "$PYTHON" -m torch.distributed.run --nproc_per_node="$NPROC" \
    --master_port="$PORT" "$(dirname "$0")/test.py" "$CONFIG" "$CHECKPOINT" \
    --launcher pytorch "$@"
