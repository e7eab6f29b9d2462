"""``kptps``: 16 MediaPipe facial keypoints carried as GFV 2-D coordinates, TPS-warp generator.

Representation: ``NumKps`` = 16 normalised 2-D keypoints per picture (forehead, chin, jaw,
nose, iris centres, brows, mouth corners and outer lips), no matrices. Mapping onto the GFV
SEI message (``docs/gfv_sei.md#gfv-syntax-outline``; JVET-AJ0207):

======================================  =========================================================
syntax element                          value
======================================  =========================================================
gfv_coordinate_present_flag             1
gfv_kps_pred_flag                       1 (base: intra-message DPCM; others: from previous message)
gfv_coordinate_precision_factor_minus1  coordinate precision factor - 1 (default 7: step 2^-7 =
                                        1 pixel at 256x256)
gfv_num_kps_minus1                      15
gfv_coordinate_z_present_flag           0
gfv_matrix_present_flag                 0
gfv_nn_present_flag / gfv_nn_mode_idc   1 / 1 (``gfv_uri`` names the generator)
======================================  =========================================================
"""

from __future__ import annotations

from .interface import ModelSpec, generator_uri
from .landmarks import LandmarkAnalyser
from .mapping import KeypointMapping
from .registry import register_model
from .relative import additive
from .tps import TPSWarpGenerator

#: Face Mesh indices: forehead, chin, jaw L/R, lower jaw L/R, nose tip, nose bridge, iris L/R,
#: brows L/R, mouth corners L/R, upper lip, lower lip.
KEYPOINTS = (10, 152, 234, 454, 172, 397, 1, 6, 468, 473, 105, 334, 61, 291, 0, 17)

URI = generator_uri("kptps", "v1")

#: Coordinate precision factor (``gfv_coordinate_precision_factor_minus1`` + 1): one pixel at 256x256.
COORDINATE_PRECISION_FACTOR = 7


@register_model
def kptps() -> ModelSpec:
    """The keypoint / TPS model (no trained weights)."""
    return ModelSpec(
        name="kptps",
        uri=URI,
        representation=f"{len(KEYPOINTS)} 2-D facial keypoints (GFV coordinates), no matrices",
        make_analyser=lambda: LandmarkAnalyser(KEYPOINTS),
        make_generator=lambda deterministic=False: TPSWarpGenerator(),  # numpy/float64: one path
        make_layout=lambda coordinate_precision_factor=None, matrix_element_precision_factor=None: KeypointMapping(
            len(KEYPOINTS), coordinate_precision_factor or COORDINATE_PRECISION_FACTOR, URI
        ),
        relative_motion=additive,
    )
