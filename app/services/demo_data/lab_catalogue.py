"""The demo laboratory's test catalogue: the tests of ``lab_tests.LAB_TESTS`` with their specimen
and reference ranges by sex and age band (adult ranges as Vietnamese hospital laboratories print
them, children's where they differ), and critical limits where a laboratory phones the doctor."""
from __future__ import annotations

from decimal import Decimal
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import LabAnalyte, LabReferenceRange, LabTest
from app.services.demo_data.lab_tests import LAB_TESTS

SPECIMENS = {
    "CBC": "Máu toàn phần (EDTA)", "GLU": "Huyết tương (NaF)", "HBA1C": "Máu toàn phần (EDTA)",
    "LIPID": "Huyết thanh", "LIVER": "Huyết thanh", "KIDNEY": "Huyết thanh", "UA": "Nước tiểu",
}
# (sex, age from, age to (excluded) or None, low, high, critical low, critical high)
Band = tuple[str, int, int | None, float | None, float | None, float | None, float | None]
RANGES: dict[str, tuple[Band, ...]] = {
    "WBC (Bạch cầu)": (("any", 0, 12, 5.0, 15.0, 2.0, 30.0), ("any", 12, None, 4.0, 10.0, 2.0, 30.0)),
    "RBC (Hồng cầu)": (("any", 0, 12, 4.0, 5.2, None, None), ("male", 12, None, 4.5, 5.9, None, None),
                       ("female", 12, None, 3.8, 5.2, None, None), ("any", 12, None, 3.8, 5.9, None, None)),
    "HGB (Huyết sắc tố)": (("any", 0, 6, 110, 140, 70, 200), ("any", 6, 12, 115, 155, 70, 200),
                           ("male", 12, 18, 130, 160, 70, 200), ("female", 12, 18, 120, 160, 70, 200),
                           ("male", 18, None, 130, 170, 70, 200), ("female", 18, None, 120, 155, 70, 200),
                           ("any", 12, None, 120, 170, 70, 200)),
    "HCT (Hematocrit)": (("any", 0, 12, 33, 45, 20, 60), ("male", 12, None, 40, 50, 20, 60),
                         ("female", 12, None, 36, 46, 20, 60), ("any", 12, None, 36, 50, 20, 60)),
    "PLT (Tiểu cầu)": (("any", 0, None, 150, 400, 20, 1000),),
    "Glucose": (("any", 0, None, 3.9, 6.4, 2.5, 25.0),),
    "HbA1c": (("any", 0, None, 4.0, 6.0, None, None),),
    "Cholesterol toàn phần": (("any", 0, 18, 3.1, 4.4, None, None), ("any", 18, None, 3.9, 5.2, None, None)),
    "Triglyceride": (("any", 0, None, 0.46, 1.88, None, 11.3),),
    "HDL-C": (("male", 0, None, 0.9, 2.0, None, None), ("female", 0, None, 1.1, 2.2, None, None),
              ("any", 0, None, 0.9, 2.2, None, None)),
    "LDL-C": (("any", 0, None, 1.5, 3.4, None, None),),
    "AST (GOT)": (("any", 0, None, 5, 40, None, 1000),),
    "ALT (GPT)": (("male", 0, None, 5, 40, None, 1000), ("female", 0, None, 5, 35, None, 1000),
                  ("any", 0, None, 5, 40, None, 1000)),
    "Ure": (("any", 0, 18, 1.8, 6.4, None, 35.0), ("any", 18, None, 2.5, 7.5, None, 35.0)),
    "Creatinin": (("any", 0, 12, 27, 62, None, 700), ("any", 12, 18, 44, 88, None, 700),
                  ("male", 18, None, 62, 120, None, 700), ("female", 18, None, 53, 100, None, 700),
                  ("any", 18, None, 53, 120, None, 700)),
    "pH nước tiểu": (("any", 0, None, 5.0, 8.0, None, None),),
    "Tỷ trọng": (("any", 0, None, 1.005, 1.030, None, None),),
}
# Analytes reported as text (no range, no flag), added to a demo test after its numeric ones.
TEXT_ANALYTES = {"UA": (("Protein nước tiểu", None, 0), ("Glucose nước tiểu", None, 0))}


def _decimal(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def seed_lab_catalogue(session: Session, money: Callable[[int], Decimal] | None = None) -> dict[str, int]:
    """Add the demo tests that are not in the catalogue yet (by code), each at its price (what a
    visit that orders it bills; ``money`` turns the VND price into the clinic's currency); flushes,
    does not commit. Returns the catalogue's ids by code."""
    existing = {test.code: test.id for test in session.execute(select(LabTest)).scalars()}
    for code, (name, price, analytes) in LAB_TESTS.items():
        if code in existing:
            continue
        test = LabTest(code=code, name=name, specimen=SPECIMENS.get(code), active=True,
                       price=money(price) if money is not None else Decimal(price))
        rows = [(analyte, unit, decimals) for analyte, unit, _low, _high, decimals in analytes]
        rows += list(TEXT_ANALYTES.get(code, ()))
        for position, (analyte, unit, decimals) in enumerate(rows):
            item = LabAnalyte(position=position, name=analyte, unit=unit, decimals=decimals)
            for sex, age_from, age_to, low, high, critical_low, critical_high in RANGES.get(analyte, ()):
                item.ranges.append(LabReferenceRange(
                    sex=sex, age_min_years=age_from, age_max_years=age_to, low=_decimal(low), high=_decimal(high),
                    critical_low=_decimal(critical_low), critical_high=_decimal(critical_high)))
            test.analytes.append(item)
        session.add(test)
    session.flush()
    return {test.code: test.id for test in session.execute(select(LabTest)).scalars()}
