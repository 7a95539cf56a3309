"""Drug interactions: pairs of active ingredients with a severity, loaded from a clinic's CSV
(``flask interactions load FILE``). Ingredients are stored folded (lower case, no accents) and in
a canonical order (``ingredient_a < ingredient_b``), so a pair is one row whichever way it is asked."""
from __future__ import annotations

import sqlalchemy as sa
from flask_appbuilder import Model
from sqlalchemy.orm import Mapped, mapped_column

from app.i18n import N_
from app.models.base import TimestampMixin, choice

SEVERITIES = (N_("minor"), N_("moderate"), N_("severe"))


class DrugInteraction(TimestampMixin, Model):
    __tablename__ = "drug_interaction"
    id: Mapped[int] = mapped_column(primary_key=True)
    ingredient_a: Mapped[str] = mapped_column(sa.Unicode(120), nullable=False)
    ingredient_b: Mapped[str] = mapped_column(sa.Unicode(120), nullable=False)
    severity: Mapped[str] = mapped_column(choice("interaction_severity", *SEVERITIES), nullable=False)
    description_en: Mapped[str] = mapped_column(sa.Unicode(500), nullable=False)
    description_vi: Mapped[str] = mapped_column(sa.Unicode(500), nullable=False)
    __table_args__ = (
        sa.UniqueConstraint("ingredient_a", "ingredient_b", name="uq_drug_interaction_pair"),
        sa.CheckConstraint("ingredient_a < ingredient_b", name="ck_drug_interaction_order"),
    )

    def __repr__(self) -> str:
        return f"{self.ingredient_a} + {self.ingredient_b} ({self.severity})"
