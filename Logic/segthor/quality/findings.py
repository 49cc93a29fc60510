"""The vocabulary of the quality checks: findings, per-organ status, and the report that gathers them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OK, CHECK, IMPLAUSIBLE = "ok", "check", "implausible"
STATUSES = (OK, CHECK, IMPLAUSIBLE)
_RANK = {s: i for i, s in enumerate(STATUSES)}


@dataclass(frozen=True)
class Finding:
    """One check that fired: its id (e.g. "volume", "outside_thorax"), a level and a one-line reason.

    Levels: "warning" for input checks; "check" or "implausible" for organ checks.
    """

    check: str
    level: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"check": self.check, "level": self.level, "message": self.message}


@dataclass
class OrganQuality:
    """Plausibility of one predicted organ: worst level of its findings, the findings, and what was measured."""

    organ: str
    findings: list[Finding] = field(default_factory=list)
    measures: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        worst = OK
        for f in self.findings:
            if _RANK.get(f.level, 0) > _RANK[worst]:
                worst = f.level
        return worst

    @property
    def reasons(self) -> list[str]:
        return [f.message for f in self.findings]

    def flag(self, check: str, level: str, message: str) -> None:
        self.findings.append(Finding(check, level, message))

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reasons": self.reasons,
            "checks": [f.check for f in self.findings],
            "levels": [f.level for f in self.findings],
            "measures": self.measures,
        }


@dataclass
class InputQuality:
    """What the input checks found: warnings (each with its reason) and the measured facts behind them."""

    warnings: list[Finding] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    def warn(self, check: str, message: str) -> None:
        self.warnings.append(Finding(check, "warning", message))

    def to_dict(self) -> dict[str, Any]:
        return {"warnings": [w.to_dict() for w in self.warnings], **self.facts}


@dataclass
class QualityReport:
    """Input checks plus per-organ plausibility of one segmented CT."""

    input: InputQuality
    organs: dict[str, OrganQuality]

    @property
    def needs_review(self) -> bool:
        """True when any input warning fired or any organ is not "ok"."""
        return bool(self.input.warnings) or any(o.status != OK for o in self.organs.values())

    def statuses(self) -> dict[str, str]:
        return {key: o.status for key, o in self.organs.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QualityReport:
        """The report back from `to_dict()` (e.g. handed over by the Slicer module's child process)."""
        warnings = [Finding(w["check"], w["level"], w["message"]) for w in d["input"]["warnings"]]
        facts = {k: v for k, v in d["input"].items() if k != "warnings"}
        organs = {}
        for key, o in d["organs"].items():
            levels = o.get("levels") or [o["status"]] * len(o["reasons"])
            findings = [Finding(c, lv, r) for c, lv, r in zip(o["checks"], levels, o["reasons"], strict=True)]
            organs[key] = OrganQuality(key, findings, dict(o["measures"]))
        return cls(InputQuality(warnings, facts), organs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "needs_review": self.needs_review,
            "input": self.input.to_dict(),
            "organs": {key: o.to_dict() for key, o in self.organs.items()},
        }
