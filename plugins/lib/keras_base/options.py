"""The command-line options every Keras model shares, with the seed paper's defaults.

Adam (lr 1e-3, betas 0.9/0.999, eps 1e-7), batch 32, up to 100 epochs and early stopping on
the validation loss with patience 5 (best weights restored) are what the paper trained with;
a plain ``artkit train MODEL`` therefore reproduces its set-up, and every value is an option.
"""

from __future__ import annotations

from pathlib import Path

from artkit.contracts import OptionSpec
from artkit_plugins.lib.keras_base.distribute import STRATEGY_OPTION

TRAINING_OPTIONS: list[OptionSpec] = [
    OptionSpec("epochs", int, 100, "Maximum number of epochs (early stopping may end sooner)."),
    OptionSpec("batch_size", int, 32, "Images per training step."),
    OptionSpec("lr", float, 1e-3, "Adam learning rate."),
    OptionSpec("beta1", float, 0.9, "Adam beta_1."),
    OptionSpec("beta2", float, 0.999, "Adam beta_2."),
    OptionSpec("eps", float, 1e-7, "Adam epsilon."),
    OptionSpec("patience", int, 5, "Early stopping: epochs without a lower validation loss "
               "before stopping (the best epoch's weights are kept); 0 turns it off."),
    OptionSpec("augment_to", int, 0, "Class-balanced augmentation: raise every class (every "
               "label, multi-label) to at least N training images with random flips, "
               "brightness, zoom, shifts and rotations, drawn afresh each epoch; 0: off."),
    OptionSpec("save_augmented", Path, None, "Also write the augmented images of the first "
               "epoch into this folder (to look at them)."),
    OptionSpec("class_weight", str, "none", "'balanced' weights each training image by the "
               "inverse frequency of its class (mean over its labels, multi-label).",
               choices=("none", "balanced")),
    OptionSpec("tensorboard", bool, False, "Write TensorBoard logs into the run folder."),
    OptionSpec("resume", str, None, "Continue an interrupted run (its folder or MODEL/N) from "
               "its last checkpoint, with its options and history; --epochs, if given, sets the "
               "new total (e.g. to extend a finished run)."),
    STRATEGY_OPTION,
]


def weights_option(default: str = "none") -> OptionSpec:
    return OptionSpec("weights", str, default, "Initial weights of the convolutional base: "
                      "'none' (random), 'imagenet' (Keras download, needs the internet) or "
                      "the PATH of a weights file (.h5 / .weights.h5) for this architecture.")


FREEZE_OPTION = OptionSpec("freeze_base", bool, False, "Train only the new head and keep the "
                           "convolutional base fixed (transfer learning).")


def input_size_option(default: int, minimum: int) -> OptionSpec:
    return OptionSpec("input_size", int, default, f"Side of the square network input in "
                      f"pixels (default {default}, at least {minimum}).")
