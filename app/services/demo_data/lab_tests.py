"""The demo laboratory: tests with their price and analytes (unit, reference range, decimals)."""
from __future__ import annotations

LAB_TESTS = {
    # code: (name, price VND, ((analyte, unit, low, high, decimals), ...))
    "CBC": ("Tổng phân tích tế bào máu ngoại vi", 90_000, (
        ("WBC (Bạch cầu)", "G/L", 4.0, 10.0, 1), ("RBC (Hồng cầu)", "T/L", 3.8, 5.5, 2),
        ("HGB (Huyết sắc tố)", "g/L", 120, 160, 0), ("HCT (Hematocrit)", "%", 36, 48, 1),
        ("PLT (Tiểu cầu)", "G/L", 150, 400, 0))),
    "GLU": ("Glucose máu lúc đói", 40_000, (("Glucose", "mmol/L", 3.9, 6.4, 1),)),
    "HBA1C": ("HbA1c", 150_000, (("HbA1c", "%", 4.0, 6.0, 1),)),
    "LIPID": ("Bộ mỡ máu", 200_000, (
        ("Cholesterol toàn phần", "mmol/L", 3.9, 5.2, 2), ("Triglyceride", "mmol/L", 0.46, 1.88, 2),
        ("HDL-C", "mmol/L", 0.9, 2.0, 2), ("LDL-C", "mmol/L", 1.5, 3.4, 2))),
    "LIVER": ("Chức năng gan (AST, ALT)", 100_000, (
        ("AST (GOT)", "U/L", 5, 40, 0), ("ALT (GPT)", "U/L", 5, 40, 0))),
    "KIDNEY": ("Chức năng thận (Ure, Creatinin)", 100_000, (
        ("Ure", "mmol/L", 2.5, 7.5, 1), ("Creatinin", "µmol/L", 62, 120, 0))),
    "UA": ("Tổng phân tích nước tiểu", 60_000, (
        ("pH nước tiểu", None, 5.0, 8.0, 1), ("Tỷ trọng", None, 1.005, 1.030, 3))),
}
