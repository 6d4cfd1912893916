#!/usr/bin/env bash
# Build the JAX backend's own environment: .venv-jax (or $FTWIZARD_JAX_VENV / the first argument).
#
# Why a separate environment: google-tunix 0.1.7 pins safetensors<0.8 and so pulls transformers
# back to 5.12, while the PyTorch stack here is on transformers 5.23; tunix 0.1.5 (the version
# that installs beside 5.23) trains LoRA with no trainable state. The JAX venv has no torch.
#
#   scripts/setup_jax_env.sh            # CPU / GPU-less machine (CI, laptops)
#   scripts/setup_jax_env.sh --tpu      # on a TPU VM: adds jax[tpu] (libtpu)
#
# Re-running is cheap: nothing is installed when the pins have not changed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${FTWIZARD_JAX_VENV:-.venv-jax}"
EXTRA=""
for arg in "$@"; do
  case "$arg" in
    --tpu) EXTRA="jax[tpu]==0.10.2" ;;
    -h|--help) sed -n 2,12p "$0"; exit 0 ;;
    *) VENV="$arg" ;;
  esac
done
PINS=(google-tunix==0.1.7 jax==0.10.2 jaxlib==0.10.2 flax==0.12.8 optax==0.2.8
      orbax-checkpoint==0.12.8 qwix==0.1.8 safetensors==0.7.0)
[ -n "$EXTRA" ] && PINS+=("$EXTRA")
STAMP="$VENV/.ftwizard-jax-stamp"
WANT="$(printf '%s\n' "${PINS[@]}"; sha1sum pyproject.toml | cut -c1-40)"
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
  echo "JAX environment up to date: $VENV/bin/python"
  exit 0
fi
PY="${PYTHON:-python3}"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --disable-pip-version-check -q -e ".[jax]" "${PINS[@]}"
"$VENV/bin/python" -c "import tunix, qwix, optax, orbax.checkpoint, jax; print('JAX environment ready:', jax.__version__, jax.devices())"
printf '%s' "$WANT" > "$STAMP"
echo "train with: $VENV/bin/python -m ftwizard.core.backends.jax RUN_DIR (ftwizard run does this for method.parallel: jax)"
