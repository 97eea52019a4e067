"""`artkit.build_embedding_model(...)`: the embedding model `artkit embed`, `index build`,
`similar` and `duplicates` use without a model, rebuilt from licence-clean material in one
call.

The recipe (docs/embeddings.md): MobileNet alpha 0.25 from the Keras Applications ImageNet
weights (Apache-2.0), frozen, global average pooling of its last block (256 values). Nothing
is learnt: the backbone goes through the same path as any embedding model, a `linear-probe`
run exported with ``embedding=True``, so the file has the same contract (output
``embedding``, normalisation inside the graph, card task ``embedding``) and the same
self-check. The run's head is fitted on a small synthetic set only because a run needs one;
the export leaves it out. The recipe and the weights' origin go in the model card
(``extra["provenance"]``).
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from artkit.api.painting_detector import WEIGHTS_ORIGIN
from artkit.console import ProgressCallback, reporting

#: Synthetic images of the throwaway run: enough for a train / validation / test split and
#: the export's self-check.
RUN_IMAGES = 24
DEFAULT_INPUT_SIZE = 224


def build_embedding_model(weights: str | Path, output: str | Path,
                          input_size: int = DEFAULT_INPUT_SIZE, *,
                          progress: bool | ProgressCallback | None = None) -> Path:
    """Export MobileNet alpha 0.25 with the no-top weights file `weights` (``'none'``:
    random initialisation, for tests only) as an embedding model of `input_size` px at
    `output`; returns `output`. The run it goes through is kept under ``runs/`` (the card
names it); the weights file is recorded by name and sha256."""
    from artkit.api.train import export, train
    from artkit.data.synth import generate

    output = Path(output)
    with reporting(progress), tempfile.TemporaryDirectory(prefix="artkit-embedding-") as tmp:
        data = generate(Path(tmp) / "data", "multiclass", RUN_IMAGES, seed=0, size=input_size)
        run = train("linear-probe", data=data, backbone="mobilenet", weights=str(weights),
                    alpha=0.25, input_size=input_size, stages=1, tta=False, c="1")
        export(run, output, embedding=True)
    from artkit.formats.model_card import ModelCard

    random = str(weights) == "none"
    card = ModelCard.read(output)
    # the file is shipped: it names the weights file, not where it lay on the builder's disk
    card.options = {**card.options, "weights": Path(str(weights)).name}
    card.extra = {**card.extra, "provenance": {
        "weights": "none (random initialisation)" if random else WEIGHTS_ORIGIN,
        "weights_file": Path(str(weights)).name,
        "network": "MobileNet alpha 0.25, include_top=False, global average pooling of the "
                   "last block; frozen, nothing trained",
        "input_size": input_size,
        "command": f"artkit build-embedding-model --weights W --input-size {input_size}",
        "weights_sha256": None if random else hashlib.sha256(
            Path(weights).read_bytes()).hexdigest()}}
    card.write(output)
    return output
