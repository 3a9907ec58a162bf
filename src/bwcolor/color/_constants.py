"""The one table of color-science constants used by both the NumPy and the keras.ops code.

sRGB primaries and the D65 white come from IEC 61966-2-1; the matrix is the one scikit-image
uses (`skimage.color.colorconv.xyz_from_rgb`). The reference white is *derived from that matrix*
(XYZ of RGB = (1, 1, 1)) rather than taken from the rounded tabulated D65 white
(0.95047, 1, 1.08883) that scikit-image pairs it with. Why: with the tabulated white, a pure gray
pixel gets b* up to 0.0047 (measured with skimage 0.26), so neutral gray would not be neutral in
Lab and a = b = 0 would not decode to exact gray. The two whites differ by 1.5e-5 (X) and 7e-5 (Z)
relative; L* is unaffected (the Y row sums to exactly 1). The Lab breakpoints (0.008856, 7.787)
are the rounded CIE 1976 values scikit-image uses, so L* agrees with skimage to ~1e-6.
"""

import numpy as np

#: Linear sRGB -> CIE XYZ (D65), rows X, Y, Z.
XYZ_FROM_RGB = np.array(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ],
    dtype=np.float64,
)
#: CIE XYZ -> linear sRGB.
RGB_FROM_XYZ = np.linalg.inv(XYZ_FROM_RGB)
#: Reference white: XYZ of sRGB white (1, 1, 1), so that neutral colors have a* = b* = 0.
WHITE_XYZ = XYZ_FROM_RGB.sum(axis=1)

# sRGB transfer function (IEC 61966-2-1).
SRGB_LINEAR_THRESHOLD = 0.04045  # on the encoded value
SRGB_ENCODED_THRESHOLD = 0.0031308  # on the linear value
SRGB_LINEAR_SLOPE = 12.92
SRGB_GAMMA = 2.4
SRGB_OFFSET = 0.055

# CIE 1976 L*a*b* breakpoints, as rounded in scikit-image.
LAB_EPSILON = 0.008856  # t above this uses the cube root
LAB_KAPPA_SLOPE = 7.787  # slope of the linear segment
LAB_OFFSET = 16.0 / 116.0
LAB_F_THRESHOLD = 0.2068966  # f(LAB_EPSILON): inverse breakpoint

#: Model scaling: L in [0, 100] -> [-1, 1]; ab / AB_SCALE -> about [-1, 1] (the tutorial's /128).
L_CENTER = 50.0
L_SCALE = 50.0
AB_SCALE = 128.0
