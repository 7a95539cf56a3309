"""The version of the roles and permissions: one row, its number raised in the same transaction as
every change of a role or permission, so each process knows when its cached copy is out of date.
Named ``ab_`` like FAB's tables: it is security state, kept when clinic data is wiped."""
from __future__ import annotations

import sqlalchemy as sa
from flask_appbuilder import Model
from sqlalchemy.orm import Mapped, mapped_column


class PermissionVersion(Model):
    __tablename__ = "ab_permission_version"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    __table_args__ = (sa.CheckConstraint("id = 1", name="ck_ab_permission_version_one_row"),)
