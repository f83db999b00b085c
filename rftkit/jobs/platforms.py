"""What each training platform offers, with the date each fact was checked and its source.

Preflight reads :data:`MODELS` and :data:`OPENAI_WIND_DOWN`; the forecast reads :data:`PRICES`.
All three are plain tables meant to be edited when a platform changes: every row carries its source
and the date it was read; ``docs/platforms.md`` §1 says the same in prose, and
``docs/hosted-api.md`` §6.7 gives the billing rules. ``verified=False`` marks facts only third
parties reported; preflight words them as reports and warns rather than refusing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

CHECKED = dt.date(2026, 12, 1)
DEPRECATIONS = "developers.openai.com/api/docs/deprecations (self-serve fine-tuning update)"
AZURE_MODELS = "MicrosoftDocs/azure-ai-docs foundry/includes/fine-tune-supported-models.md"
AZURE_AGENT = "microsoft-foundry/fine-tuning Demos/Agentic_RFT_PrivatePreview/README.md"
AZURE_COST = (
    "MicrosoftDocs/azure-ai-docs how-to-fine-tuning-cost-management-content.md (2026-03-19)"
)

OPENAI_WIND_DOWN = {
    dt.date(2026, 5, 7): "no new jobs for organisations without fine-tuning history",
    dt.date(2026, 7, 2): "no new jobs for organisations without fine-tuned-model inference in "
    "the last 60 days",
    dt.date(2027, 1, 6): "no new jobs for anyone",
}
"""OpenAI's self-serve fine-tuning wind-down, date -> what stops (source: DEPRECATIONS)."""


@dataclass(frozen=True)
class ModelSupport:
    """Whether ``platform`` trains ``model`` with RFT and with Agent RFT (job tools, endpoint
    graders), and until when."""

    platform: str
    model: str
    rft: bool
    agent_rft: bool
    status: str
    until: dt.date | None
    source: str
    verified: bool = True


MODELS: tuple[ModelSupport, ...] = (
    ModelSupport("openai", "o4-mini-2025-04-16", True, False,
                 "reported shut down on OpenAI's API", dt.date(2026, 10, 23),
                 "two third-party posts citing " + DEPRECATIONS, verified=False),
    ModelSupport("openai", "gpt-5-2025-08-07", True, True,
                 "Agent RFT by invitation; model shuts down", dt.date(2026, 12, 11),
                 DEPRECATIONS + "; openai/build-hours 20-agent-rft"),
    ModelSupport("azure", "o4-mini-2025-04-16", True, True,
                 "RFT generally available (East US 2, Sweden Central; Global training); "
                 "Agent RFT private preview", None, f"{AZURE_MODELS}; {AZURE_AGENT}"),
    ModelSupport("azure", "o4-mini", True, True,
                 "RFT generally available; Agent RFT private preview", None,
                 f"{AZURE_MODELS}; {AZURE_AGENT}"),
    ModelSupport("azure", "gpt-5-2025-08-07", True, True,
                 "RFT gated, by invitation (North Central US, Sweden Central); in Microsoft's "
                 "own 2026-10-03 run an Agent RFT job failed (500); no pause/resume",
                 None, f"{AZURE_MODELS}; {AZURE_AGENT}"),
)  # fmt: skip


@dataclass(frozen=True)
class Price:
    """What one training hour costs on ``platform`` for ``model`` (None: not published)."""

    platform: str
    model: str
    usd_per_training_hour: float | None
    note: str
    source: str
    checked: dt.date = CHECKED


PRICES: tuple[Price, ...] = (
    Price("openai", "o4-mini-2025-04-16", 100.0,
          "wall-clock time in the core training loop, prorated per second; model-grader tokens "
          "billed at API rates", "help.openai.com billing guide for the RFT API"),
    Price("openai", "gpt-5-2025-08-07", None, "not published",
          "help.openai.com billing guide for the RFT API"),
    Price("azure", "o4-mini-2025-04-16", 100.0,
          "auto-pause at $5,000 (training plus grading); grader tokens billed; Global training "
          "10-30% cheaper, Developer tier 50% off Global; cancelled runs billed up to the cancel",
          AZURE_COST),
    Price("azure", "o4-mini", 100.0, "as o4-mini-2025-04-16", AZURE_COST),
    Price("azure", "gpt-5-2025-08-07", 0.0,
          "free during the Agent RFT private preview; grader calls billed", AZURE_AGENT),
)  # fmt: skip
AZURE_AUTO_PAUSE_USD = 5000.0


def model_support(platform: str, model: str) -> ModelSupport | None:
    """The known row for ``model`` on ``platform`` (None when the table does not list it)."""
    return next((m for m in MODELS if m.platform == platform and m.model == model), None)


def price_for(platform: str, model: str, prices: tuple[Price, ...] = PRICES) -> Price | None:
    return next((p for p in prices if p.platform == platform and p.model == model), None)


def models_frame() -> pd.DataFrame:
    """The support table, one row per platform and model, for reading."""
    return pd.DataFrame([m.__dict__ for m in MODELS])
