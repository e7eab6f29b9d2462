"""``kptps``: 16 MediaPipe facial keypoints carried as GFV 2-D coordinates, TPS-warp generator.

Representation: ``NumKps`` = 16 normalised 2-D keypoints per picture (forehead, chin, jaw,
nose, iris centres, brows, mouth corners and outer lips), no matrices. Mapping onto the GFV
SEI (``docs/gfv_sei.md#gfv-syntax-outline``; JVET-AJ0207):

======================================  =========================================================
syntax element                          value
======================================  =========================================================
gfv_coordinate_present_flag             1
gfv_kps_pred_flag                       1 (base: intra-message DPCM; others: from previous message)
gfv_coordinate_precision_factor_minus1  ``precision`` - 1 (default 7: step 2^-7 = 1 pixel at 256x256)
gfv_num_kps_minus1                      15
gfv_coordinate_z_present_flag           0
gfv_matrix_present_flag                 0
gfv_nn_present_flag / gfv_nn_mode_idc   1 / 1 (``gfv_uri`` names the generator)
======================================  =========================================================
"""

from __future__ import annotations

from .landmarks import LandmarkAnalyzer
from .mapping import KeypointMapping
from .registry import ModelSpec, register_model
from .tps import TPSWarpGenerator

#: Face Mesh indices: forehead, chin, jaw L/R, lower jaw L/R, nose tip, nose bridge, iris L/R,
#: brows L/R, mouth corners L/R, upper lip, lower lip.
KEYPOINTS = (10, 152, 234, 454, 172, 397, 1, 6, 468, 473, 105, 334, 61, 291, 0, 17)

URI_TAG = "tag:gfv-refsw.jvet,2026:generator"
URI = "urn:gfv-refsw:generator:kptps:v1"

SPEC = register_model(ModelSpec(
    name="kptps",
    uri_tag=URI_TAG,
    uri=URI,
    representation=f"{len(KEYPOINTS)} 2-D facial keypoints (GFV coordinates), no matrices",
    make_analyzer=lambda: LandmarkAnalyzer(KEYPOINTS),
    make_generator=lambda: TPSWarpGenerator(),
    make_mapping=lambda precision=None: KeypointMapping(len(KEYPOINTS), precision or 7, URI_TAG, URI),
))
