"""Color space: sRGB <-> CIE L*a*b* (NumPy reference) and the model's L/ab scaling.

One module per job; this package only re-exports them:

- :mod:`~bwcolor.color.transfer`: the sRGB transfer functions and the Lab companding function,
  written once for NumPy and ``keras.ops``.
- :mod:`~bwcolor.color.lab`: sRGB <-> XYZ <-> L*a*b*, gray <-> L*.
- :mod:`~bwcolor.color.lookup`: 8-bit lookup-table paths for the data pipeline.
- :mod:`~bwcolor.color.gamut`: fit colors into sRGB by reducing chroma.
- :mod:`~bwcolor.color.scaling`: L* and a*, b* to and from the model's ranges.
- :mod:`~bwcolor.color.ops`: the same conversions with ``keras.ops``, for models and losses.

Every place in bwcolor that turns pixels into model inputs or targets, or model outputs back into
pixels, goes through the scaling functions here, so training and colorizing cannot disagree.
"""

from bwcolor.color.gamut import reduce_chroma_to_gamut
from bwcolor.color.lab import gray_to_lightness, lab_to_rgb, rgb_to_gray, rgb_to_lab
from bwcolor.color.lookup import uint8_gray_to_lightness, uint8_rgb_to_lab, uint8_rgb_to_lightness
from bwcolor.color.scaling import ab_to_target, input_to_lightness, lightness_to_input, target_to_ab

__all__ = [
    "ab_to_target",
    "gray_to_lightness",
    "input_to_lightness",
    "lab_to_rgb",
    "lightness_to_input",
    "reduce_chroma_to_gamut",
    "rgb_to_gray",
    "rgb_to_lab",
    "target_to_ab",
    "uint8_gray_to_lightness",
    "uint8_rgb_to_lab",
    "uint8_rgb_to_lightness",
]

# Names before "lightness" became the one word for L*: kept so user code does not break, left out
# of __all__ and the docs so new code uses the new names.
gray_to_l = gray_to_lightness
l_to_input = lightness_to_input
input_to_l = input_to_lightness
