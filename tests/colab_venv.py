"""The Colab-like environment the Colab tests run chapters in: a virtual environment with Colab's
preinstalled versions (tests/colab/requirements.txt), made once and reused while the pins are
unchanged. `make test` makes it before pytest starts (`python tests/colab_venv.py`), so the
parallel test workers only ever reuse it; the Colab tests' fixture makes it when run on their own."""

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PINS = REPO / "tests" / "colab" / "requirements.txt"
VENV = REPO / ".colab-venv"


def ensure() -> Path:
    """The environment's interpreter, after (re)making the environment if the pins changed."""
    stamp = VENV / "pins.sha256"
    digest = hashlib.sha256(PINS.read_bytes()).hexdigest()
    python = VENV / "bin" / "python"
    if not (stamp.exists() and stamp.read_text() == digest and python.exists()):
        shutil.rmtree(VENV, ignore_errors=True)
        # output captured, so that a failure says why (ensurepip's own error, say)
        for command in (
            [sys.executable, "-m", "venv", str(VENV)],
            [str(python), "-m", "pip", "install", "-q", "-r", str(PINS)],
        ):
            done = subprocess.run(command, cwd=REPO, stdin=subprocess.DEVNULL, capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        stamp.write_text(digest)
    return python


if __name__ == "__main__":
    print(ensure())
