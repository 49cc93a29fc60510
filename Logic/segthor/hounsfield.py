"""Hounsfield-unit thresholds between tissue classes, shared by the clean-up rules (`segthor.inference`) and the
input checks (`segthor.quality`), which may not import each other (docs/architecture.md).

Values are CT numbers in HU: air -1000, water 0 (the scale's definition); lung parenchyma about -950..-600,
fat about -120..-80, soft tissue above -100 (typical adult values).
"""

from __future__ import annotations

# Air-density tissue (lung, airway, gas) against everything denser: lung parenchyma is -950..-600 HU and soft
# tissue above -100 HU, so -400 HU separates them with room for partial volume and noise.
LUNG_HU = -400.0
# A region of air-density tissue whose mean is below this is gas (stomach, bowel, outside air: -1000 HU plus
# noise), not lung: parenchyma with its vessels and airways averages well above it (measured over the lung
# regions found: -824 HU on the real development CT, -804 HU on the sample phantom).
GAS_HU = -950.0
