"""Which SegTHOR organ a named (and possibly coded) segment stands for: the one matching rule for every reader.

Used for segments of Slicer .seg.nrrd files and segmentation nodes, and for DICOM RTSTRUCT ROIs and DICOM SEG
segments, so a reference is read the same way whatever its format. The rule, first match wins:

1. the user's map (``--map NAME=ORGAN`` on the command line, or a JSON object ``{"NAME": "ORGAN"}``): the
   segment's name, compared without case, spaces, ``_`` or ``-``; ORGAN is an organ key (``heart``) or
   ``ignore`` to leave the segment out;
2. the segment's terminology code: the SNOMED CT code of one of our organs (``organs.ORGANS``), a few SNOMED CT
   codes of the same structures under another name (thoracic aorta), or a legacy SNOMED RT code (scheme ``SRT``,
   e.g. ``T-32000`` heart) as older Slicer and DICOM files carry (DICOM PS3.16 CID 4 and CID 7151 list them);
3. the segment's name: an organ name, or an English synonym (``oesophagus``, ``thoracic aorta``).

Anything else maps to None: the caller leaves it out and names it in its report ("segments not used").
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from segthor.errors import InputError
from segthor.organs import ORGANS, Organ, organ_by_name, organ_by_snomed_code

# User-map value that leaves a segment out on purpose (it is still listed as not used).
IGNORE = "ignore"

# Legacy SNOMED RT codes (scheme designator SRT) of the four organs, as in DICOM PS3.16 CID 4 "Anatomic Region"
# and the SNOMED RT -> SNOMED CT mapping DICOM publishes; files written before 2017 (and many RTSTRUCT/SEG
# exporters) still use them. Thoracic aorta T-42070 is what SegTHOR's aorta label covers.
LEGACY_SRT_CODES: dict[str, str] = {
    "T-56000": "esophagus",
    "T-32000": "heart",
    "T-25000": "trachea",
    "T-42000": "aorta",
    "T-42070": "aorta",  # thoracic aorta
}

# SNOMED CT codes of the same structures named differently (besides each organ's own code in organs.py).
EXTRA_SNOMED_CODES: dict[str, str] = {
    "113262008": "aorta",  # thoracic aorta
}

# English spellings and synonyms, compared after ``normalize_name``.
NAME_SYNONYMS: dict[str, str] = {
    "oesophagus": "esophagus",
    "thoracicaorta": "aorta",
    "thoracicesophagus": "esophagus",
    "aortathoracica": "aorta",
}

_SEPARATORS = re.compile(r"[\s_\-]+")


def normalize_name(name: str) -> str:
    """A segment name as compared: lower case, without spaces, ``_`` or ``-`` ('Left_Heart ' -> 'leftheart')."""
    return _SEPARATORS.sub("", str(name)).casefold()


def _code_value(code: str | tuple[str, str] | None) -> str | None:
    """The code value of ``"80891009"``, ``"SCT^80891009"``, ``"SRT^T-32000^Heart"`` or ``("SRT", "T-32000")``."""
    if code is None:
        return None
    if isinstance(code, tuple):
        return (str(code[1]).strip() or None) if len(code) > 1 else None
    text = str(code).strip()
    if "^" in text:
        parts = text.split("^")
        text = parts[1] if len(parts) > 1 else ""
    return text.strip() or None


def organ_for_code(code: str | tuple[str, str] | None) -> Organ | None:
    """The organ of a SNOMED CT or legacy SNOMED RT code (see the module docstring); None when not ours."""
    value = _code_value(code)
    if value is None:
        return None
    organ = organ_by_snomed_code(value)
    if organ is not None:
        return organ
    key = LEGACY_SRT_CODES.get(value.upper()) or EXTRA_SNOMED_CODES.get(value)
    return organ_by_name(key) if key else None


def organ_for_name(name: str) -> Organ | None:
    """The organ a segment name stands for (organ name or English synonym, any case); None when none."""
    key = normalize_name(name)
    for organ in ORGANS:
        if normalize_name(organ.name) == key:
            return organ
    synonym = NAME_SYNONYMS.get(key)
    return organ_by_name(synonym) if synonym else None


def organ_for_segment(
    name: str,
    code: str | tuple[str, str] | None = None,
    user_map: Mapping[str, str] | None = None,
) -> Organ | None:
    """The SegTHOR organ segment ``name`` (with terminology ``code``) stands for, or None.

    ``code``: the segment's anatomy code as a bare value (``"80891009"``, ``"T-32000"``), a Slicer/DICOM coded
    string (``"SCT^80891009^Heart"``) or a ``(scheme, value)`` pair. ``user_map``: segment name -> organ key or
    ``"ignore"`` (see ``read_user_map``); it wins over codes and names, so a user can also correct a wrongly
    coded segment. The order of the rules is in the module docstring.
    """
    if user_map:
        wanted = _normalized_map(user_map).get(normalize_name(name))
        if wanted is not None:
            return None if wanted == IGNORE else organ_by_name(wanted)
    return organ_for_code(code) or organ_for_name(name)


def _normalized_map(user_map: Mapping[str, str]) -> dict[str, str]:
    return {normalize_name(k): str(v).strip().lower() for k, v in user_map.items()}


def _check_target(name: str, organ: str, source: str) -> str:
    organ = organ.strip().lower()
    if organ != IGNORE:
        try:
            organ = organ_by_name(organ).key
        except KeyError:
            known = ", ".join(o.key for o in ORGANS)
            raise InputError(
                f"{source}: segment {name!r} is mapped to {organ!r}, which is not an organ; use one of {known} "
                f"or {IGNORE}"
            ) from None
    return organ


def read_user_map(items: Iterable[str | os.PathLike[str]] | Mapping[str, str] | None) -> dict[str, str]:
    """Segment name -> organ key (or ``"ignore"``) from ``--map`` values, JSON files or a mapping.

    Each item is ``NAME=ORGAN`` (e.g. ``Herz=heart``; the last ``=`` splits, so names may hold ``=``) or the path
    of a JSON file holding one object ``{"NAME": "ORGAN", ...}``. Later items win. Raises ``InputError`` naming
    the item for a malformed entry, an unreadable file or an unknown organ.
    """
    if items is None:
        return {}
    if isinstance(items, Mapping):
        return {str(k): _check_target(str(k), str(v), "segment map") for k, v in items.items()}
    result: dict[str, str] = {}
    for item in items:
        text = os.fspath(item)
        if "=" in text and not Path(text).is_file():
            name, _, organ = text.rpartition("=")
            if not name.strip():
                raise InputError(f"--map {text!r}: give NAME=ORGAN, e.g. --map Herz=heart")
            result[name.strip()] = _check_target(name.strip(), organ, f"--map {text!r}")
            continue
        result.update(_read_map_file(Path(text)))
    return result


def _read_map_file(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise InputError(
            f"--map {path}: not NAME=ORGAN and no such JSON file; give e.g. --map Herz=heart or a JSON file "
            '{"Herz": "heart"}'
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(
            f'segment map {path} is not readable JSON ({exc}); write one object {{"NAME": "ORGAN"}}'
        ) from exc
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise InputError(f'segment map {path} must hold one JSON object of names to organs, e.g. {{"Herz": "heart"}}')
    return {str(k): _check_target(str(k), v, f"segment map {path}") for k, v in data.items()}
