"""Demo data: a Vietnamese clinic with its doctors, patients, visits, prescriptions, bills and stock.

``seed_demo_data`` fills an EMPTY database in one transaction. It is deterministic for a given
``seed`` (and ``today``), makes no login users or roles, and never touches Flask globals.

It is built for size: 100,000 patients in well under two minutes. Faker (``vi_VN``) only fills
small pools (addresses) and its name lists seed the name pools; every row is then drawn from
those pools with one seeded ``random.Random``. All primary keys are assigned here (the database
is empty, so ids start at 1), which lets children point at parents without round trips, and rows
go in with Core ``executemany`` inserts, 5,000 at a time.

Consistency kept on purpose (a user of the demo would notice otherwise):
- appointments sit inside the doctor's weekly hours in the clinic's time zone, never on the
  doctor's leave, training or the clinic's public holidays; no doctor and no patient has two
  appointments at the same time; nobody is seen before being born;
- an encounter (with ICD-10 diagnoses and plausible vitals) for every completed visit, an
  invoice whose lines add up and whose payments match its status;
- the stock ledger: every batch's quantity is the sum of its movements (receipts, dispensing of
  the prescriptions, FIFO by expiry, and expiry write-offs); a few batches expire within 30 days
  and a few medicines are below their reorder level.
"""
from __future__ import annotations

import gc
import math
import random
from bisect import bisect
from collections import defaultdict, deque
from datetime import date, datetime, time, timedelta
from datetime import timezone as _dt_timezone
from decimal import ROUND_FLOOR, Decimal
from itertools import accumulate
from typing import Callable, NamedTuple, Sequence
from zoneinfo import ZoneInfo

from faker import Faker
from faker.providers.person.vi_VN import Provider as _VnPersonProvider
from sqlalchemy import Table, bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session

from app.models import (
    Appointment, Department, Diagnosis, Doctor, Employee, Encounter, Invoice, InvoiceLine, LabOrder,
    LabResult, Medicine, Patient, Payment, Prescription, PrescriptionItem, Review, ScheduleException,
    Service, Specialty, StockBatch, StockMovement, WorkSchedule, doctor_service,
)
from app.services.people import PATIENT_CODE_PREFIX, patient_search_text
from app.services.text import fold

__all__ = ["seed_demo_data"]

UTC = _dt_timezone.utc
CHUNK = 5_000
MIN_HISTORY_DAYS = 120  # the past covers at least this many days, more when the doctors need it
FUTURE_DAYS = 28  # bookings from today up to four weeks ahead
PAST_VISITS_PER_PATIENT = ((0, 8), (1, 47), (2, 31), (3, 10), (4, 4))  # (visits, weight): ~1.55
VND_PER_UNIT = {"USD": 25_000, "EUR": 27_000, "GBP": 32_000, "JPY": 165, "SGD": 19_000,
                "AUD": 16_500, "KRW": 18, "CNY": 3_500, "THB": 700}

# --------------------------------------------------------------------------------------------
# The clinic
# --------------------------------------------------------------------------------------------

# Patient groups: c = child (under 16), f = adult woman, m = adult man.
DEPARTMENTS = (
    # code, name, specialty, patient groups, description
    ("NTQ", "Nội tổng quát", "Nội khoa", "fm",
     "Khám, chẩn đoán và điều trị ngoại trú các bệnh nội khoa thường gặp ở người lớn: tăng huyết áp, "
     "đái tháo đường, bệnh tiêu hóa, hô hấp."),
    ("NHI", "Nhi", "Nhi khoa", "c",
     "Khám và điều trị cho trẻ em dưới 16 tuổi; tư vấn dinh dưỡng và theo dõi phát triển."),
    ("RHM", "Răng Hàm Mặt", "Răng hàm mặt", "cfm",
     "Khám răng, cạo vôi, trám răng, nhổ răng khôn và điều trị bệnh nha chu."),
    ("DL", "Da liễu", "Da liễu", "cfm",
     "Điều trị mụn trứng cá, viêm da cơ địa, nấm da, mày đay và các bệnh da thường gặp."),
    ("TMH", "Tai Mũi Họng", "Tai mũi họng", "cfm",
     "Khám và nội soi tai mũi họng; điều trị viêm xoang, viêm họng, viêm mũi dị ứng."),
    ("SPK", "Sản phụ khoa", "Sản phụ khoa", "f",
     "Khám phụ khoa, quản lý thai kỳ và siêu âm thai."),
    ("XN", "Xét nghiệm", "Huyết học - Sinh hóa", "cfm",
     "Xét nghiệm huyết học, sinh hóa máu và nước tiểu; trả kết quả trong ngày."),
    ("CDHA", "Chẩn đoán hình ảnh", "Chẩn đoán hình ảnh", "cfm",
     "Siêu âm tổng quát và chụp X-quang kỹ thuật số."),
)
EXTRA_SPECIALTIES = (
    ("Tim mạch", "Bệnh lý tim mạch: tăng huyết áp, bệnh mạch vành, rối loạn nhịp tim."),
    ("Tiêu hóa", "Bệnh lý dạ dày, ruột, gan mật."),
)

SERVICES = (
    # code, name, department, price (VND), minutes, booking weight, patient groups, description
    ("KB-TQ", "Khám nội tổng quát", "NTQ", 200_000, 20, 8, "cfm",
     "Khám lâm sàng tổng quát, tư vấn và kê đơn điều trị ngoại trú."),
    ("KSK-TQ", "Gói khám sức khỏe tổng quát", "NTQ", 1_500_000, 60, 1, "fm",
     "Khám nội, đo điện tim và xét nghiệm máu, nước tiểu cơ bản; kết luận sức khỏe."),
    ("KB-NHI", "Khám nhi", "NHI", 200_000, 20, 8, "c", "Khám bệnh cho trẻ em dưới 16 tuổi."),
    ("TV-DD", "Tư vấn dinh dưỡng trẻ em", "NHI", 250_000, 30, 1, "c",
     "Đánh giá tăng trưởng, tư vấn chế độ ăn cho trẻ biếng ăn, suy dinh dưỡng."),
    ("KB-RHM", "Khám răng miệng", "RHM", 150_000, 15, 4, "cfm", "Khám và tư vấn điều trị răng miệng."),
    ("CVR", "Cạo vôi răng và đánh bóng", "RHM", 350_000, 30, 3, "cfm", "Lấy cao răng hai hàm, đánh bóng."),
    ("NRK", "Nhổ răng khôn", "RHM", 1_200_000, 60, 1, "fm", "Tiểu phẫu nhổ răng khôn mọc lệch, mọc ngầm."),
    ("KB-DL", "Khám da liễu", "DL", 250_000, 20, 1, "cfm", "Khám và điều trị các bệnh da thường gặp."),
    ("KB-TMH", "Khám tai mũi họng", "TMH", 200_000, 15, 4, "cfm", "Khám tai mũi họng bằng đèn soi."),
    ("NS-TMH", "Nội soi tai mũi họng", "TMH", 400_000, 30, 2, "cfm", "Nội soi tai, mũi xoang, họng thanh quản."),
    ("KB-SPK", "Khám phụ khoa", "SPK", 300_000, 30, 4, "f", "Khám phụ khoa và tư vấn sức khỏe sinh sản."),
    ("SA-THAI", "Siêu âm thai 4D", "SPK", 450_000, 30, 2, "f", "Siêu âm hình thái thai nhi 4D."),
    ("SA-BUNG", "Siêu âm ổ bụng tổng quát", "CDHA", 250_000, 20, 3, "cfm",
     "Siêu âm gan, mật, tụy, lách, thận, bàng quang."),
    ("XQ-NGUC", "Chụp X-quang ngực thẳng", "CDHA", 180_000, 15, 2, "cfm", "X-quang kỹ thuật số tư thế thẳng."),
    ("XN-TQ", "Gói xét nghiệm máu tổng quát", "XN", 690_000, 15, 1, "cfm",
     "Công thức máu, đường huyết, mỡ máu, chức năng gan thận."),
)
GENERAL_CONSULTATION = "KB-TQ"
SERVICE_AGES = {"KSK-TQ": (16, 120), "TV-DD": (0, 10), "NRK": (16, 75), "SA-THAI": (18, 42), "KB-RHM": (2, 120),
                "CVR": (8, 120), "NS-TMH": (3, 120), "XN-TQ": (1, 120), "KB-DL": (1, 120),
                "KB-SPK": (15, 120)}
LAB_PACKAGES = {"XN-TQ": ("CBC", "GLU", "LIPID"), "KSK-TQ": ("CBC", "GLU", "LIPID", "LIVER", "KIDNEY", "UA")}

DOCTORS = (
    # department, specialty, title, sex, years of experience, fee (VND), languages, former hospital
    ("NTQ", "Nội khoa", "ThS. BS.", "male", 18, 300_000, "vi, en", "Bệnh viện Chợ Rẫy"),
    ("NTQ", "Tim mạch", "BS.CKII", "female", 25, 400_000, "vi, en, fr", "Viện Tim TP.HCM"),
    ("NHI", "Nhi khoa", "BS.CKI", "female", 12, 250_000, "vi, en", "Bệnh viện Nhi Đồng 1"),
    ("NHI", "Nhi khoa", "BS.", "male", 6, 200_000, "vi", "Bệnh viện Nhi Đồng 2"),
    ("RHM", "Răng hàm mặt", "BS.CKI", "male", 10, 200_000, "vi, en", "Bệnh viện Răng Hàm Mặt TP.HCM"),
    ("DL", "Da liễu", "ThS. BS.", "female", 9, 300_000, "vi, en", "Bệnh viện Da Liễu TP.HCM"),
    ("TMH", "Tai mũi họng", "TS. BS.", "male", 20, 350_000, "vi, en", "Bệnh viện Tai Mũi Họng TP.HCM"),
    ("SPK", "Sản phụ khoa", "BS.CKII", "female", 22, 350_000, "vi, en", "Bệnh viện Từ Dũ"),
    ("CDHA", "Chẩn đoán hình ảnh", "BS.CKI", "male", 14, 200_000, "vi",
     "Bệnh viện Đại học Y Dược TP.HCM"),
    ("XN", "Huyết học - Sinh hóa", "BS.", "female", 8, 150_000, "vi",
     "Bệnh viện Truyền máu Huyết học"),
)
SATURDAY_DOCTORS = (0, 2, 4, 6, 8)  # indexes into DOCTORS who also work Saturday mornings
WEEKDAY_SESSIONS = ((time(7, 30), time(11, 30)), (time(13, 30), time(17, 0)))
SATURDAY_SESSIONS = ((time(7, 30), time(11, 30)),)

EMPLOYEES = (
    # position, department, sex
    ("receptionist", None, "female"), ("receptionist", None, "male"), ("cashier", None, "female"),
    ("pharmacist", None, "female"), ("nurse", "NTQ", "female"), ("nurse", "NHI", "female"),
    ("technician", "XN", "male"), ("manager", None, "male"),
)

# Visits by department for each patient group (weights).
# Balanced so that no doctor is far busier than the others.
VISIT_DEPARTMENTS = {
    "c": (("NHI", 63), ("RHM", 10), ("TMH", 13), ("DL", 7), ("CDHA", 3), ("XN", 4)),
    "f": (("NTQ", 26), ("SPK", 18), ("RHM", 9), ("DL", 11), ("TMH", 10), ("CDHA", 13), ("XN", 13)),
    "m": (("NTQ", 32), ("RHM", 11), ("DL", 12), ("TMH", 12), ("CDHA", 16), ("XN", 17)),
}

# --------------------------------------------------------------------------------------------
# Medicines
# --------------------------------------------------------------------------------------------


class Med(NamedTuple):
    code: str
    name: str
    ingredient: str
    strength: str
    form: str
    unit: str
    price: int  # VND per unit
    route: str
    dose: str  # "1" (units per intake) or a text for creams, drops...
    per_day: int
    days: tuple[int, ...]
    instructions: str
    child_ok: bool
    per_course: int  # >0: quantity is this many packs for the whole course (creams, drops, inhalers)
    pack: int  # a supplier's pack, in units
    shelf_months: int


MEDICINES = (
    Med("PARA500", "Paracetamol", "Paracetamol", "500 mg", "Viên nén", "viên", 1_000, "oral", "1", 3, (3, 5),
        "Uống khi sốt trên 38,5°C hoặc đau, cách nhau ít nhất 4–6 giờ", False, 0, 500, 36),
    Med("PARA250", "Paracetamol", "Paracetamol", "250 mg", "Thuốc bột sủi", "gói", 2_500, "oral", "1", 3, (3,),
        "Hòa tan trong nước, uống khi sốt trên 38,5°C, cách nhau 4–6 giờ", True, 0, 240, 24),
    Med("IBU400", "Ibuprofen", "Ibuprofen", "400 mg", "Viên nén bao phim", "viên", 1_500, "oral", "1", 2, (3, 5),
        "Uống ngay sau ăn no", False, 0, 300, 36),
    Med("AMO500", "Amoxicillin", "Amoxicillin", "500 mg", "Viên nang", "viên", 1_800, "oral", "1", 3, (7,),
        "Uống đủ liệu trình kể cả khi đã hết triệu chứng", False, 0, 500, 36),
    Med("AMO250", "Amoxicillin", "Amoxicillin", "250 mg", "Thuốc bột pha hỗn dịch", "gói", 2_500, "oral", "1", 2,
        (7,), "Pha với 10 ml nước, uống đủ 7 ngày", True, 0, 240, 24),
    Med("AMC625", "Amoxicillin + Acid clavulanic", "Amoxicillin, Acid clavulanic", "500 mg/125 mg",
        "Viên nén bao phim", "viên", 9_000, "oral", "1", 2, (7,), "Uống đầu bữa ăn", False, 0, 140, 24),
    Med("CEF500", "Cefuroxime", "Cefuroxime axetil", "500 mg", "Viên nén bao phim", "viên", 9_500, "oral", "1",
        2, (7,), "Uống sau ăn", False, 0, 100, 24),
    Med("AZI500", "Azithromycin", "Azithromycin", "500 mg", "Viên nén bao phim", "viên", 12_000, "oral", "1", 1,
        (3,), "Uống trước ăn 1 giờ hoặc sau ăn 2 giờ", False, 0, 60, 36),
    Med("CFX200", "Cefixime", "Cefixime", "200 mg", "Viên nang", "viên", 6_500, "oral", "1", 2, (7,),
        "Uống sau ăn", False, 0, 100, 24),
    Med("MET250", "Metronidazole", "Metronidazole", "250 mg", "Viên nén", "viên", 500, "oral", "2", 2, (7,),
        "Uống sau ăn, không uống rượu bia trong thời gian dùng thuốc", False, 0, 500, 36),
    Med("LOR10", "Loratadine", "Loratadine", "10 mg", "Viên nén", "viên", 1_200, "oral", "1", 1, (7,),
        "Uống buổi tối", False, 0, 300, 36),
    Med("CET10", "Cetirizine", "Cetirizine dihydrochloride", "10 mg", "Viên nén bao phim", "viên", 900, "oral",
        "1", 1, (7, 10), "Uống buổi tối, có thể gây buồn ngủ", False, 0, 300, 36),
    Med("FEX180", "Fexofenadine", "Fexofenadine hydrochloride", "180 mg", "Viên nén bao phim", "viên", 5_500,
        "oral", "1", 1, (10, 14), "Uống buổi sáng", False, 0, 200, 36),
    Med("OME20", "Omeprazole", "Omeprazole", "20 mg", "Viên nang tan trong ruột", "viên", 1_500, "oral", "1", 2,
        (14,), "Uống trước ăn sáng và tối 30 phút", False, 0, 280, 24),
    Med("ESO40", "Esomeprazole", "Esomeprazole magnesium", "40 mg", "Viên nén bao tan trong ruột", "viên",
        7_000, "oral", "1", 1, (14, 28), "Uống trước ăn sáng 30 phút", False, 0, 140, 24),
    Med("DOM10", "Domperidone", "Domperidone", "10 mg", "Viên nén", "viên", 800, "oral", "1", 3, (7,),
        "Uống trước ăn 15–30 phút", False, 0, 500, 36),
    Med("MTF500", "Metformin", "Metformin hydrochloride", "500 mg", "Viên nén bao phim", "viên", 700, "oral",
        "1", 2, (30,), "Uống trong hoặc ngay sau bữa ăn sáng và tối", False, 0, 500, 36),
    Med("GLC30", "Gliclazide", "Gliclazide", "30 mg", "Viên nén giải phóng kéo dài", "viên", 2_500, "oral", "1",
        1, (30,), "Uống vào bữa ăn sáng", False, 0, 300, 36),
    Med("AML5", "Amlodipine", "Amlodipine besylate", "5 mg", "Viên nén", "viên", 600, "oral", "1", 1, (30,),
        "Uống buổi sáng, đều đặn mỗi ngày", False, 0, 500, 36),
    Med("LOS50", "Losartan", "Losartan kali", "50 mg", "Viên nén bao phim", "viên", 2_200, "oral", "1", 1, (30,),
        "Uống buổi sáng", False, 0, 300, 36),
    Med("ATO20", "Atorvastatin", "Atorvastatin calcium", "20 mg", "Viên nén bao phim", "viên", 3_000, "oral",
        "1", 1, (30,), "Uống buổi tối", False, 0, 300, 36),
    Med("BIS5", "Bisoprolol", "Bisoprolol fumarate", "5 mg", "Viên nén bao phim", "viên", 2_500, "oral", "1", 1,
        (30,), "Uống buổi sáng, không tự ý ngừng thuốc", False, 0, 300, 36),
    Med("ASP81", "Aspirin", "Acid acetylsalicylic", "81 mg", "Viên nén bao tan trong ruột", "viên", 600, "oral",
        "1", 1, (30,), "Uống sau ăn trưa", False, 0, 500, 36),
    Med("SALINH", "Salbutamol", "Salbutamol sulfate", "100 mcg/liều", "Bình xịt định liều", "bình", 85_000,
        "inhalation", "Xịt 1–2 nhát", 3, (14,), "Xịt khi khó thở, dùng buồng đệm cho trẻ nhỏ", True, 1, 20, 24),
    Med("MON5", "Montelukast", "Montelukast natri", "5 mg", "Viên nhai", "viên", 5_500, "oral", "1", 1, (30,),
        "Nhai trước khi ngủ", True, 0, 140, 24),
    Med("MON10", "Montelukast", "Montelukast natri", "10 mg", "Viên nén bao phim", "viên", 6_500, "oral", "1", 1,
        (30,), "Uống trước khi ngủ", False, 0, 140, 24),
    Med("MPR16", "Methylprednisolone", "Methylprednisolone", "16 mg", "Viên nén", "viên", 3_500, "oral", "1", 1,
        (5,), "Uống buổi sáng sau ăn", False, 0, 150, 36),
    Med("DEX15", "Dextromethorphan", "Dextromethorphan hydrobromide", "15 mg", "Viên nang mềm", "viên", 1_000,
        "oral", "1", 3, (5,), "Uống khi ho nhiều", False, 0, 300, 24),
    Med("ACE200", "Acetylcysteine", "Acetylcysteine", "200 mg", "Thuốc bột", "gói", 2_500, "oral", "1", 3, (5,),
        "Hòa tan trong nửa ly nước, uống sau ăn", True, 0, 300, 24),
    Med("AMB30", "Ambroxol", "Ambroxol hydrochloride", "30 mg", "Viên nén", "viên", 1_200, "oral", "1", 3, (5,),
        "Uống sau ăn", False, 0, 300, 36),
    Med("ORS", "Oresol", "Natri clorid, Kali clorid, Natri citrat, Glucose", "4,1 g", "Thuốc bột", "gói", 3_000,
        "oral", "1", 3, (3,), "Pha 1 gói với 200 ml nước đun sôi để nguội, uống trong ngày", True, 0, 400, 24),
    Med("VITC500", "Vitamin C", "Acid ascorbic", "500 mg", "Viên nén sủi", "viên", 800, "oral", "1", 1, (10,),
        "Hòa tan trong nước, uống buổi sáng", False, 0, 500, 24),
    Med("CALD", "Calci D", "Calci carbonat, Cholecalciferol", "1250 mg/125 IU", "Viên nén", "viên", 2_500,
        "oral", "1", 1, (30,), "Uống sau ăn sáng", False, 0, 300, 36),
    Med("FEFOL", "Sắt + Acid folic", "Sắt fumarat, Acid folic", "162 mg/0,75 mg", "Viên nang", "viên", 3_000,
        "oral", "1", 1, (30,), "Uống lúc đói hoặc trước ăn 1 giờ", False, 0, 300, 36),
    Med("CLO1", "Clotrimazole", "Clotrimazole", "1%", "Kem bôi da", "tuýp", 25_000, "topical", "Bôi lớp mỏng",
        2, (14,), "Bôi lên vùng da bị nấm sau khi rửa sạch, lau khô", True, 1, 50, 36),
    Med("FUS2", "Acid fusidic", "Acid fusidic", "2%", "Kem bôi da", "tuýp", 55_000, "topical", "Bôi lớp mỏng",
        2, (14,), "Bôi lên nốt mụn viêm", False, 1, 40, 24),
    Med("BET05", "Betamethasone", "Betamethasone dipropionate", "0,05%", "Kem bôi da", "tuýp", 18_000,
        "topical", "Bôi lớp mỏng", 2, (7,), "Không bôi lên mặt, không dùng quá 2 tuần", True, 1, 50, 36),
    Med("TOB03", "Tobramycin", "Tobramycin", "0,3%", "Dung dịch nhỏ mắt", "lọ", 38_000, "ophthalmic",
        "Nhỏ 1 giọt", 4, (7,), "Nhỏ vào mắt bệnh, bỏ lọ sau 28 ngày mở nắp", True, 1, 30, 24),
    Med("NACL09", "Natri clorid", "Natri clorid", "0,9%", "Dung dịch nhỏ mũi", "lọ", 4_000, "nasal",
        "Nhỏ 2–3 giọt", 3, (7,), "Nhỏ mỗi bên mũi, dùng để vệ sinh mũi", True, 2, 200, 36),
    Med("CHX012", "Chlorhexidine", "Chlorhexidine digluconate", "0,12%", "Dung dịch súc miệng", "chai", 45_000,
        "topical", "Súc miệng 15 ml", 2, (14,), "Súc miệng 30 giây sau khi chải răng, không nuốt", False, 1, 24, 24),
    Med("DIC50", "Diclofenac", "Diclofenac natri", "50 mg", "Viên nén bao tan trong ruột", "viên", 600, "oral",
        "1", 2, (5, 7), "Uống ngay sau ăn no", False, 0, 500, 36),
    Med("MEB500", "Mebendazole", "Mebendazole", "500 mg", "Viên nhai", "viên", 3_500, "oral", "1", 1, (1,),
        "Nhai và nuốt, uống một liều duy nhất", True, 0, 100, 36),
)
# Children get the paediatric form, or nothing, when the adult form is prescribed.
CHILD_SUBSTITUTES = {"PARA500": "PARA250", "AMO500": "AMO250", "AMC625": "AMO250", "CEF500": "AMO250",
                     "MON10": "MON5", "DEX15": "ACE200", "AMB30": "ACE200", "IBU400": "PARA250"}
SUPPLIERS = (
    "Công ty CP Dược Hậu Giang", "Công ty CP Traphaco", "Công ty CP Dược phẩm Imexpharm",
    "Công ty CP Pymepharco", "Công ty TNHH Zuellig Pharma Việt Nam", "Công ty CP Dược phẩm OPC",
    "Công ty CP Xuất nhập khẩu Y tế Domesco",
)

# --------------------------------------------------------------------------------------------
# Laboratory
# --------------------------------------------------------------------------------------------

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

# --------------------------------------------------------------------------------------------
# Diagnoses (ICD-10), with what goes with them
# --------------------------------------------------------------------------------------------


class Dx(NamedTuple):
    code: str
    vi: str
    en: str
    groups: str  # patient groups it fits
    min_age: int
    max_age: int
    fever: bool
    complaint: str
    exam: str
    plan: str
    meds: tuple[tuple[str, ...], ...]  # groups of alternatives; the first group always, others often
    follow_up: int  # days, 0 = none
    labs: tuple[str, ...]  # tests a doctor may order for it (billed)


def _dx(code, vi, en, groups="cfm", ages=(0, 120), fever=False, complaint="", exam="", plan="", meds=(),
        follow_up=0, labs=()) -> Dx:
    return Dx(code, vi, en, groups, ages[0], ages[1], fever, complaint, exam, plan, meds, follow_up, labs)


_PLAN_RESPIRATORY = "Điều trị ngoại trú, uống nhiều nước, nghỉ ngơi. Tái khám nếu sốt cao kéo dài trên 3 ngày."
DIAGNOSES = {
    "J06.9": _dx("J06.9", "Nhiễm trùng đường hô hấp trên cấp", "Acute upper respiratory infection, unspecified",
                 fever=True, complaint="Sốt, ho, sổ mũi {n} ngày",
                 exam="Họng đỏ, amidan không sưng. Phổi thông khí đều, không ran.", plan=_PLAN_RESPIRATORY,
                 meds=(("PARA500",), ("CET10", "LOR10"), ("DEX15",), ("VITC500",))),
    "I10": _dx("I10", "Tăng huyết áp vô căn (nguyên phát)", "Essential (primary) hypertension", "fm", (35, 120),
               complaint="Đau đầu, chóng mặt, đo huyết áp tại nhà cao",
               exam="Tim đều, không âm thổi. Phổi trong. Không phù chi.",
               plan="Ăn nhạt, hạn chế rượu bia, tập thể dục 30 phút mỗi ngày. Đo huyết áp hằng ngày.",
               meds=(("AML5", "LOS50"), ("BIS5",), ("ASP81",)), follow_up=30, labs=("KIDNEY", "LIPID")),
    "E11.9": _dx("E11.9", "Đái tháo đường típ 2 không biến chứng", "Type 2 diabetes mellitus without complications",
                 "fm", (35, 120), complaint="Khát nước, tiểu nhiều, mệt mỏi",
                 exam="Tỉnh, tiếp xúc tốt. Tim phổi bình thường. Bàn chân không loét, mạch mu chân bắt rõ.",
                 plan="Chế độ ăn giảm tinh bột và đường, tập thể dục đều đặn. Tự theo dõi đường huyết.",
                 meds=(("MTF500",), ("GLC30",)), follow_up=30, labs=("GLU", "HBA1C")),
    "E78.5": _dx("E78.5", "Rối loạn lipid máu", "Hyperlipidaemia, unspecified", "fm", (30, 120),
                 complaint="Kiểm tra mỡ máu cao", exam="Thể trạng thừa cân. Tim phổi bình thường.",
                 plan="Hạn chế mỡ động vật, đồ chiên rán; tăng rau xanh; vận động 150 phút mỗi tuần.",
                 meds=(("ATO20",),), follow_up=60, labs=("LIPID", "LIVER")),
    "K29.7": _dx("K29.7", "Viêm dạ dày, không đặc hiệu", "Gastritis, unspecified", "fm",
                 complaint="Đau thượng vị, ợ hơi, đầy bụng {n} ngày",
                 exam="Bụng mềm, ấn đau nhẹ vùng thượng vị. Gan lách không sờ chạm.",
                 plan="Ăn chín uống sôi, tránh đồ cay nóng, rượu bia, cà phê. Ăn đúng giờ.",
                 meds=(("OME20", "ESO40"), ("DOM10",)), follow_up=14),
    "K21.9": _dx("K21.9", "Bệnh trào ngược dạ dày - thực quản",
                 "Gastro-oesophageal reflux disease without oesophagitis", "fm",
                 complaint="Ợ nóng, ợ chua, nóng rát sau xương ức",
                 exam="Bụng mềm, không điểm đau khu trú.",
                 plan="Không nằm ngay sau ăn, kê cao đầu giường, giảm cân nếu thừa cân.",
                 meds=(("ESO40",), ("DOM10",)), follow_up=28),
    "J20.9": _dx("J20.9", "Viêm phế quản cấp", "Acute bronchitis, unspecified", "fm", fever=True,
                 complaint="Ho có đờm, sốt nhẹ, tức ngực {n} ngày",
                 exam="Phổi có ran ngáy rải rác hai bên. Không co kéo cơ hô hấp.", plan=_PLAN_RESPIRATORY,
                 meds=(("AMO500", "AZI500", "CFX200"), ("ACE200", "AMB30"), ("PARA500",)), follow_up=7),
    "M54.5": _dx("M54.5", "Đau thắt lưng", "Low back pain", "fm", (18, 120),
                 complaint="Đau vùng thắt lưng, đau tăng khi cúi và mang vác",
                 exam="Cột sống thắt lưng ấn đau, hạn chế cúi. Lasègue âm tính.",
                 plan="Hạn chế mang vác nặng, chườm ấm, tập vật lý trị liệu.",
                 meds=(("DIC50", "IBU400"), ("PARA500",)), follow_up=14),
    "A09": _dx("A09", "Tiêu chảy và viêm dạ dày ruột do nhiễm trùng",
               "Diarrhoea and gastroenteritis of presumed infectious origin", fever=True,
               complaint="Tiêu chảy nhiều lần trong ngày, đau quặn bụng",
               exam="Bụng mềm, nhu động ruột tăng. Không có dấu hiệu mất nước nặng.",
               plan="Bù nước bằng Oresol, ăn thức ăn mềm dễ tiêu. Tái khám ngay nếu sốt cao hoặc tiêu ra máu.",
               meds=(("ORS",), ("MET250",))),
    "Z00.0": _dx("Z00.0", "Khám sức khỏe tổng quát", "General adult medical examination", "fm", (16, 120),
                 complaint="Khám sức khỏe định kỳ", exam="Thể trạng bình thường. Tim phổi bình thường. Bụng mềm.",
                 plan="Đủ sức khỏe. Khuyến nghị khám sức khỏe định kỳ mỗi năm."),
    # Children
    "J00": _dx("J00", "Viêm mũi họng cấp (cảm lạnh)", "Acute nasopharyngitis [common cold]", "c", fever=True,
               complaint="Bé sốt, sổ mũi, ho {n} ngày", exam="Họng đỏ nhẹ, mũi có dịch trong. Phổi trong.",
               plan="Vệ sinh mũi bằng nước muối sinh lý, hạ sốt khi trên 38,5°C, cho bé uống nhiều nước.",
               meds=(("PARA250",), ("NACL09",), ("ACE200",))),
    "J02.9": _dx("J02.9", "Viêm họng cấp", "Acute pharyngitis, unspecified", fever=True,
                 complaint="Sốt, đau họng, nuốt vướng {n} ngày", exam="Họng đỏ, có giả mạc trắng ở amidan.",
                 plan=_PLAN_RESPIRATORY, meds=(("AMO250", "AMO500"), ("PARA250", "PARA500"))),
    "J45.9": _dx("J45.9", "Hen phế quản", "Asthma, unspecified", "c", (2, 16),
                 complaint="Bé ho, khò khè về đêm", exam="Phổi có ran rít, ran ngáy hai bên. SpO2 bình thường.",
                 plan="Tránh khói thuốc, lông thú, bụi nhà. Hướng dẫn dùng bình xịt với buồng đệm.",
                 meds=(("SALINH",), ("MON5",)), follow_up=14),
    "H66.9": _dx("H66.9", "Viêm tai giữa", "Otitis media, unspecified", "c", fever=True,
                 complaint="Bé đau tai, quấy khóc, sốt {n} ngày", exam="Màng nhĩ sung huyết, phồng.",
                 plan="Giữ tai khô, uống thuốc đủ liều. Tái khám sau 7 ngày.",
                 meds=(("AMO250",), ("PARA250",)), follow_up=7),
    "B08.4": _dx("B08.4", "Bệnh tay chân miệng", "Enteroviral vesicular stomatitis with exanthem", "c", (0, 10),
                 fever=True, complaint="Sốt, loét miệng, nổi bóng nước ở tay chân",
                 exam="Vết loét niêm mạc miệng; bóng nước lòng bàn tay, bàn chân. Không có dấu hiệu thần kinh.",
                 plan="Theo dõi giật mình, sốt cao liên tục, nôn ói; cách ly tại nhà.",
                 meds=(("PARA250",),), follow_up=3),
    "B82.9": _dx("B82.9", "Nhiễm ký sinh trùng đường ruột", "Intestinal parasitism, unspecified", "c", (2, 16),
                 complaint="Bé biếng ăn, đau bụng quanh rốn", exam="Bụng mềm, không chướng.",
                 plan="Rửa tay trước khi ăn, cắt ngắn móng tay, tẩy giun định kỳ 6 tháng.",
                 meds=(("MEB500",),)),
    "R63.3": _dx("R63.3", "Khó khăn trong ăn uống và nuôi dưỡng", "Feeding difficulties and mismanagement", "c",
                 complaint="Bé biếng ăn, chậm tăng cân",
                 exam="Cân nặng dưới trung bình theo tuổi. Tim phổi bình thường.",
                 plan="Chia nhỏ bữa ăn, tăng đạm và rau xanh. Theo dõi cân nặng mỗi tháng.", follow_up=30),
    # Teeth
    "K02.1": _dx("K02.1", "Sâu ngà răng", "Caries of dentine", complaint="Ê buốt răng khi ăn uống đồ lạnh",
                 exam="Răng hàm có lỗ sâu ngà, thử lạnh (+).",
                 plan="Trám răng bằng composite. Chải răng 2 lần/ngày, dùng chỉ nha khoa."),
    "K04.0": _dx("K04.0", "Viêm tủy răng", "Pulpitis", complaint="Đau nhức răng dữ dội về đêm",
                 exam="Răng sâu lộ tủy, gõ đau.", plan="Điều trị tủy răng, hẹn 3 lần.",
                 meds=(("IBU400", "PARA500"),), follow_up=7),
    "K05.1": _dx("K05.1", "Viêm lợi mạn", "Chronic gingivitis", complaint="Chảy máu chân răng khi chải răng",
                 exam="Lợi viền đỏ, chảy máu khi thăm khám. Cao răng độ 2.",
                 plan="Cạo vôi răng, hướng dẫn chải răng đúng cách.", meds=(("CHX012",),)),
    "K03.6": _dx("K03.6", "Vôi răng", "Deposits [accretions] on teeth", complaint="Cạo vôi răng định kỳ",
                 exam="Cao răng trên và dưới lợi hai hàm.", plan="Cạo vôi, đánh bóng. Tái khám sau 6 tháng.",
                 meds=(("CHX012",),)),
    "K01.1": _dx("K01.1", "Răng khôn mọc ngầm", "Impacted teeth", "fm", (16, 120),
                 complaint="Đau vùng răng khôn hàm dưới", exam="Răng 38 mọc lệch, ngầm một phần, lợi trùm viêm đỏ.",
                 plan="Nhổ răng 38. Cắn gạc 30 phút, chườm lạnh, ăn mềm, không súc miệng mạnh trong 24 giờ.",
                 meds=(("AMC625",), ("PARA500",), ("CHX012",)), follow_up=7),
    # Skin
    "L20.9": _dx("L20.9", "Viêm da cơ địa", "Atopic dermatitis, unspecified", complaint="Ngứa, da khô, nổi mẩn đỏ",
                 exam="Mảng da đỏ, khô, tróc vảy ở nếp khuỷu và khoeo.",
                 plan="Dưỡng ẩm da 2 lần/ngày, tắm nước ấm, tránh xà phòng có tính kiềm.",
                 meds=(("BET05",), ("CET10",)), follow_up=14),
    "L70.0": _dx("L70.0", "Mụn trứng cá thông thường", "Acne vulgaris", "cfm", (12, 45),
                 complaint="Nổi mụn ở mặt nhiều tháng", exam="Mụn viêm và nhân mụn vùng trán, má.",
                 plan="Rửa mặt 2 lần/ngày bằng sữa rửa mặt dịu nhẹ, không nặn mụn.", meds=(("FUS2",),), follow_up=28),
    "B35.4": _dx("B35.4", "Nấm da thân", "Tinea corporis", complaint="Mảng da ngứa, bờ đỏ lan rộng",
                 exam="Mảng hồng ban hình vòng, bờ có mụn nước, tróc vảy.",
                 plan="Giữ da khô thoáng, không dùng chung khăn.", meds=(("CLO1",),), follow_up=14),
    "L50.9": _dx("L50.9", "Mày đay", "Urticaria, unspecified", complaint="Nổi mẩn ngứa khắp người",
                 exam="Sẩn phù rải rác thân mình, tứ chi. Không phù môi mắt.",
                 plan="Tránh yếu tố nghi dị ứng, không gãi.", meds=(("FEX180", "LOR10"), ("MPR16",))),
    # Ear, nose, throat
    "J01.9": _dx("J01.9", "Viêm xoang cấp", "Acute sinusitis, unspecified", fever=True,
                 complaint="Nghẹt mũi, chảy dịch mũi vàng, đau nhức vùng mặt",
                 exam="Niêm mạc mũi phù nề, dịch mủ khe giữa.", plan="Rửa mũi bằng nước muối sinh lý 2–3 lần/ngày.",
                 meds=(("AMC625", "CEF500"), ("NACL09",), ("PARA500",)), follow_up=10),
    "J30.4": _dx("J30.4", "Viêm mũi dị ứng", "Allergic rhinitis, unspecified",
                 complaint="Hắt hơi, chảy nước mũi trong, ngứa mũi", exam="Niêm mạc mũi nhợt, phù nề, dịch trong.",
                 plan="Tránh bụi, phấn hoa, lông thú; đeo khẩu trang khi ra đường.",
                 meds=(("FEX180",), ("NACL09",)), follow_up=14),
    "J03.9": _dx("J03.9", "Viêm amidan cấp", "Acute tonsillitis, unspecified", fever=True,
                 complaint="Sốt, đau họng, nuốt đau {n} ngày", exam="Amidan sưng to, đỏ, có chấm mủ.",
                 plan=_PLAN_RESPIRATORY, meds=(("AMO500",), ("PARA500",))),
    "H61.2": _dx("H61.2", "Nút ráy tai", "Impacted cerumen", complaint="Ù tai, nghe kém",
                 exam="Ống tai bít kín bởi ráy tai.", plan="Lấy ráy tai. Không tự ngoáy tai."),
    # Women
    "Z34.9": _dx("Z34.9", "Theo dõi thai bình thường", "Supervision of normal pregnancy, unspecified", "f", (18, 42),
                 complaint="Khám thai định kỳ", exam="Tim thai đều. Bề cao tử cung phù hợp tuổi thai.",
                 plan="Bổ sung sắt, acid folic và canxi. Khám thai định kỳ theo lịch.",
                 meds=(("FEFOL",), ("CALD",)), follow_up=28),
    "N76.0": _dx("N76.0", "Viêm âm đạo cấp", "Acute vaginitis", "f", (16, 70),
                 complaint="Ra khí hư nhiều, ngứa rát", exam="Niêm mạc âm đạo đỏ, khí hư nhiều.",
                 plan="Vệ sinh đúng cách, điều trị cả bạn tình.", meds=(("MET250",),), follow_up=7),
    "N94.6": _dx("N94.6", "Đau bụng kinh", "Dysmenorrhoea, unspecified", "f", (14, 45),
                 complaint="Đau bụng dưới mỗi kỳ kinh", exam="Bụng mềm, không sờ thấy khối bất thường.",
                 plan="Chườm ấm, nghỉ ngơi trong kỳ kinh.", meds=(("IBU400",),)),
    "N95.1": _dx("N95.1", "Tình trạng mãn kinh", "Menopausal and female climacteric states", "f", (45, 120),
                 complaint="Bốc hỏa, mất ngủ, kinh nguyệt không đều", exam="Khám phụ khoa bình thường.",
                 plan="Tập thể dục, bổ sung canxi và vitamin D.", meds=(("CALD",),), follow_up=90),
    # Imaging
    "R10.4": _dx("R10.4", "Đau bụng khác và không xác định", "Other and unspecified abdominal pain",
                 complaint="Đau bụng âm ỉ", exam="Siêu âm: gan, mật, tụy, lách, thận chưa ghi nhận bất thường.",
                 plan="Theo dõi thêm, khám chuyên khoa tiêu hóa nếu đau tăng."),
    "K76.0": _dx("K76.0", "Gan nhiễm mỡ", "Fatty (change of) liver, not elsewhere classified", "fm", (25, 120),
                 complaint="Siêu âm kiểm tra gan", exam="Siêu âm: gan tăng âm, nhu mô đều, bờ đều.",
                 plan="Giảm cân, hạn chế rượu bia và đồ ngọt.", follow_up=90, labs=("LIVER", "LIPID")),
    "N20.0": _dx("N20.0", "Sỏi thận", "Calculus of kidney", "fm", (20, 120),
                 complaint="Đau hông lưng, tiểu buốt", exam="Siêu âm: sỏi thận phải kích thước 5 mm, không ứ nước.",
                 plan="Uống 2–3 lít nước mỗi ngày, hạn chế muối.", meds=(("DIC50",),), follow_up=30, labs=("UA",)),
    "K80.2": _dx("K80.2", "Sỏi túi mật không viêm", "Calculus of gallbladder without cholecystitis", "fm",
                 (25, 120), complaint="Đầy bụng sau ăn nhiều dầu mỡ",
                 exam="Siêu âm: túi mật có sỏi 8 mm, thành mỏng.", plan="Hạn chế mỡ; khám ngoại khoa nếu đau."),
    "R05": _dx("R05", "Ho", "Cough", complaint="Ho kéo dài trên 2 tuần",
               exam="X-quang ngực: hai phế trường sáng, không thấy tổn thương nhu mô.",
               plan="Tránh khói thuốc, giữ ấm cổ.", meds=(("ACE200",),)),
    "Z01.6": _dx("Z01.6", "Chụp X-quang kiểm tra", "Radiological examination, not elsewhere classified",
                 complaint="Chụp X-quang kiểm tra sức khỏe", exam="X-quang ngực thẳng: tim phổi bình thường.",
                 plan="Không ghi nhận bất thường."),
    # Laboratory
    "Z01.7": _dx("Z01.7", "Xét nghiệm cận lâm sàng", "Laboratory examination", complaint="Xét nghiệm máu kiểm tra",
                 exam="Lấy máu tĩnh mạch lúc đói.", plan="Trả kết quả trong ngày, tư vấn theo kết quả."),
    "D50.9": _dx("D50.9", "Thiếu máu thiếu sắt", "Iron deficiency anaemia, unspecified", "cf",
                 complaint="Mệt mỏi, da xanh, hoa mắt", exam="Da niêm nhợt nhạt.",
                 plan="Bổ sung sắt, ăn nhiều thịt đỏ, rau xanh.", meds=(("FEFOL",),), follow_up=30, labs=("CBC",)),
    "R73.9": _dx("R73.9", "Tăng đường huyết", "Hyperglycaemia, unspecified", "fm", (30, 120),
                 complaint="Xét nghiệm đường huyết cao", exam="Tỉnh, thể trạng trung bình.",
                 plan="Giảm đường, tinh bột; kiểm tra lại đường huyết và HbA1c sau 1 tháng.",
                 follow_up=30, labs=("GLU", "HBA1C")),
}
DEPARTMENT_DIAGNOSES = {
    "NTQ": ("J06.9", "J06.9", "I10", "I10", "E11.9", "E78.5", "K29.7", "K21.9", "J20.9", "M54.5", "A09"),
    "NHI": ("J00", "J00", "J02.9", "A09", "J45.9", "H66.9", "B08.4", "B82.9"),
    "RHM": ("K02.1", "K02.1", "K04.0", "K05.1"),
    "DL": ("L20.9", "L70.0", "B35.4", "L50.9"),
    "TMH": ("J01.9", "J30.4", "J03.9", "J02.9", "H61.2"),
    "SPK": ("N76.0", "N94.6", "N95.1"),
    "CDHA": ("R10.4", "K76.0", "N20.0", "K80.2"),
    "XN": ("Z01.7", "Z01.7", "D50.9", "R73.9"),
}
SERVICE_DIAGNOSES = {
    "KSK-TQ": ("Z00.0",), "TV-DD": ("R63.3",), "CVR": ("K03.6", "K05.1"), "NRK": ("K01.1",),
    "SA-THAI": ("Z34.9",), "KB-SPK": ("N76.0", "N94.6", "N95.1", "Z34.9"), "XQ-NGUC": ("R05", "Z01.6"),
    "SA-BUNG": ("R10.4", "K76.0", "N20.0", "K80.2"),
}
PAST_HISTORY_ADULT = (
    "Khỏe mạnh, chưa ghi nhận bệnh lý nội khoa.", "Khỏe mạnh, chưa ghi nhận bệnh lý nội khoa.",
    "Tăng huyết áp 5 năm, điều trị không đều.", "Viêm dạ dày cách đây 2 năm.", "Đái tháo đường típ 2 đang điều trị.",
    "Hút thuốc lá 10 gói-năm.", "Mổ ruột thừa năm 2015.", "Viêm mũi dị ứng theo mùa.",
    "Chưa ghi nhận tiền sử dị ứng thuốc.",
)
PAST_HISTORY_CHILD = (
    "Sinh đủ tháng, tiêm chủng đầy đủ theo lịch.", "Sinh đủ tháng, tiêm chủng đầy đủ theo lịch.",
    "Sinh non 35 tuần, phát triển bình thường.", "Viêm phế quản 2 lần trong năm qua.", "Chưa ghi nhận dị ứng.",
)

# --------------------------------------------------------------------------------------------
# People
# --------------------------------------------------------------------------------------------

SURNAMES = (  # share of the population, in tenths of a percent
    ("Nguyễn", 380), ("Trần", 110), ("Lê", 95), ("Phạm", 70), ("Hoàng", 41), ("Huỳnh", 30), ("Phan", 45),
    ("Vũ", 25), ("Võ", 25), ("Đặng", 21), ("Bùi", 20), ("Đỗ", 14), ("Hồ", 13), ("Ngô", 13), ("Dương", 10),
    ("Lý", 5), ("Đào", 6), ("Đinh", 6), ("Trương", 8), ("Lâm", 5), ("Mai", 5), ("Cao", 4), ("Hà", 4),
    ("Lương", 3), ("Lưu", 3), ("Tạ", 2), ("Tô", 2), ("Châu", 2), ("Thái", 2), ("Quách", 1), ("Kiều", 1),
)
MIDDLE_MALE = (("Văn", 30), ("Đức", 8), ("Minh", 10), ("Quang", 6), ("Hữu", 6), ("Thành", 4), ("Công", 4),
               ("Quốc", 5), ("Tuấn", 3), ("Hoàng", 4), ("Xuân", 3), ("Thanh", 4), ("Gia", 4), ("Anh", 3),
               ("Bảo", 3), ("Đình", 4), ("Trọng", 3), ("Tấn", 2), ("Thế", 3), ("Nhật", 2), ("Phúc", 2))
MIDDLE_FEMALE = (("Thị", 35), ("Ngọc", 8), ("Thu", 5), ("Thanh", 5), ("Minh", 4), ("Kim", 4), ("Bảo", 3),
                 ("Hoài", 2), ("Phương", 3), ("Mai", 3), ("Khánh", 3), ("Diệu", 2), ("Thùy", 4), ("Hồng", 3),
                 ("Mỹ", 3), ("Gia", 2), ("Quỳnh", 2), ("Như", 3), ("Bích", 2), ("Hải", 2))
GIVEN_MALE = ("An", "Bảo", "Bình", "Cường", "Dũng", "Duy", "Đạt", "Đức", "Hải", "Hiếu", "Hùng", "Huy", "Hưng",
              "Khang", "Khánh", "Khoa", "Kiên", "Kiệt", "Lâm", "Long", "Lộc", "Luân", "Minh", "Nam", "Nghĩa",
              "Nhân", "Phát", "Phong", "Phúc", "Phước", "Quân", "Quang", "Sơn", "Tài", "Tâm", "Tân", "Thái",
              "Thắng", "Thành", "Thiện", "Thịnh", "Tiến", "Toàn", "Trí", "Trung", "Tuấn", "Tùng", "Việt", "Vinh",
              "Hào", "Hậu", "Hiệp", "Định", "Hòa", "Đông", "Khôi", "Vĩnh")
GIVEN_FEMALE = ("An", "Anh", "Ánh", "Bích", "Châu", "Chi", "Diệp", "Dung", "Duyên", "Giang", "Hà", "Hạnh",
                "Hằng", "Hân", "Hiền", "Hoa", "Hồng", "Huệ", "Hương", "Khánh", "Khuê", "Lan", "Liên", "Linh",
                "Loan", "Ly", "Mai", "My", "Nga", "Ngân", "Ngọc", "Nhi", "Nhung", "Oanh", "Phương", "Quyên",
                "Quỳnh", "Tâm", "Thảo", "Thanh", "Thu", "Thủy", "Trang", "Trâm", "Trinh", "Tuyết", "Uyên", "Vân",
                "Vy", "Xuân", "Yến", "Hiền", "Thư", "Trúc", "Diễm")
MOBILE_PREFIXES = ("32", "33", "34", "35", "36", "37", "38", "39", "70", "76", "77", "78", "79", "81", "82",
                   "83", "84", "85", "86", "88", "89", "90", "91", "93", "94", "96", "97", "98", "56", "58", "59")
CCCD_PROVINCES = (("079", 60), ("001", 6), ("075", 5), ("074", 5), ("080", 3), ("072", 3), ("092", 3),
                  ("048", 2), ("038", 2), ("040", 2), ("052", 2), ("086", 2), ("087", 2), ("083", 2), ("096", 1))
ALLERGIES = ("Penicillin", "Amoxicillin", "Aspirin", "Sulfamid", "Hải sản (tôm, cua)", "Đậu phộng",
             "Phấn hoa", "Bụi nhà", "Ibuprofen", "Thuốc cản quang iod", "Sữa bò", "Trứng")
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")  # reserved: demo mail never reaches anyone
CANCEL_REASONS = ("Bệnh nhân bận việc đột xuất", "Bệnh nhân xin đổi sang ngày khác", "Bệnh nhân đã đỡ bệnh",
                  "Đặt trùng lịch", "Thời tiết xấu, không đến được", "Bệnh nhân đi công tác")
REVIEW_COMMENTS = {
    5: ("Bác sĩ tận tâm, giải thích rõ ràng, dễ hiểu.", "Phòng khám sạch sẽ, nhân viên thân thiện.",
        "Khám nhanh, không phải chờ lâu. Rất hài lòng.", "Bác sĩ khám kỹ, hướng dẫn dùng thuốc chi tiết.",
        "Sẽ quay lại và giới thiệu cho người thân.", None),
    4: ("Bác sĩ giỏi nhưng phải chờ hơi lâu.", "Dịch vụ tốt, giá hợp lý.", "Nhân viên lễ tân nhiệt tình.", None),
    3: ("Thời gian chờ khá lâu dù đã đặt lịch trước.", "Bác sĩ khám hơi nhanh, chưa giải thích kỹ.", None),
    2: ("Chờ hơn một tiếng mới được khám.", "Giá thuốc hơi cao so với nơi khác."),
    1: ("Không hài lòng với cách tư vấn.", "Đặt lịch online nhưng đến nơi vẫn phải chờ rất lâu."),
}
CHANNEL_WEIGHTS = (("walk_in", 35), ("phone", 28), ("online", 32), ("chat", 5))
PAYMENT_METHODS = (("cash", 50), ("bank_transfer", 35), ("card", 15))
# Lunar New Year's day; the clinic closes from two days before to three days after.
TET = {2019: date(2019, 2, 5), 2020: date(2020, 1, 25), 2021: date(2021, 2, 12), 2022: date(2022, 2, 1),
       2023: date(2023, 1, 22), 2024: date(2024, 2, 10), 2025: date(2025, 1, 29), 2026: date(2026, 2, 17),
       2027: date(2027, 2, 6), 2028: date(2028, 1, 26), 2029: date(2029, 2, 13), 2030: date(2030, 2, 3)}


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


class _Weighted:
    """Weighted choice with one ``random()`` call (faster than ``Random.choices`` for single draws)."""

    __slots__ = ("items", "cum", "total")

    def __init__(self, pairs: Sequence[tuple[object, float]]):
        self.items = [item for item, _ in pairs]
        self.cum = list(accumulate(weight for _, weight in pairs))
        self.total = self.cum[-1]

    def pick(self, rng: random.Random):
        return self.items[bisect(self.cum, rng.random() * self.total)]


def _merge(*lists: Sequence[str]) -> list[str]:
    seen: dict[str, None] = {}
    for lst in lists:
        for item in lst:
            seen.setdefault(item, None)
    return list(seen)


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def _holiday(day: date) -> str | None:
    """Days the clinic is closed: New Year, Tết, Reunification and Labour days, National Day."""
    md = (day.month, day.day)
    if md == (1, 1):
        return "Tết Dương lịch"
    if md in ((4, 30), (5, 1)):
        return "Ngày Giải phóng miền Nam và Quốc tế Lao động"
    if md in ((9, 1), (9, 2)):
        return "Quốc khánh"
    for year in (day.year, day.year + 1):
        tet = TET.get(year)
        if tet is not None and tet - timedelta(days=2) <= day <= tet + timedelta(days=3):
            return "Nghỉ Tết Nguyên đán"
    return None


class _Appt:
    __slots__ = ("id", "patient", "doctor", "service", "day", "start_min", "end_min", "status",
                 "start", "end", "chunk", "visit", "invoice_number", "queue_number")

    def __init__(self, patient, doctor, service, day, start_min, end_min, status):
        self.patient, self.doctor, self.service = patient, doctor, service
        self.day, self.start_min, self.end_min, self.status = day, start_min, end_min, status


class _Batch:
    __slots__ = ("id", "medicine", "lot", "received_at", "expiry", "received", "remaining", "cost", "supplier")


class _Patient:
    __slots__ = ("id", "code", "full_name", "sex", "dob", "group", "phone", "last", "first_visit")


# --------------------------------------------------------------------------------------------
# The seeder
# --------------------------------------------------------------------------------------------


def seed_demo_data(
    session: Session,
    *,
    patients: int = 200,
    seed: int = 42,
    timezone: ZoneInfo,
    currency: str = "VND",
    today: date | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Fill an empty clinic database with demo data and commit; return the rows added per table.

    ``timezone`` is the clinic's zone (working hours are local there; instants are stored in UTC).
    ``today`` defaults to today in that zone: the past ends yesterday, bookings run from today for
    four weeks. ``progress(n)`` is called after each chunk of patients is written, with ``n`` the
    number of patients in that chunk (the calls add up to ``patients``: pass ``tqdm.update``).
    Raises ``ValueError`` when the clinic already has data. Makes no users or roles.
    """
    if patients < 0:
        raise ValueError("patients must be zero or more")
    _require_empty(session)
    if today is None:
        today = datetime.now(timezone).date()
    gc_was_enabled = gc.isenabled()
    gc.disable()  # a million new dicts: the cyclic collector would only cost time here
    try:
        seeder = _Seeder(session, seed=seed, tz=timezone, currency=(currency or "VND").upper(), today=today,
                         progress=progress)
        counts = seeder.run(patients)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        if gc_was_enabled:
            gc.enable()
    return counts


def _require_empty(session: Session) -> None:
    for model in (Department, Doctor, Service, Patient, Medicine, Appointment, Invoice):
        if session.execute(select(func.count()).select_from(model.__table__)).scalar():
            raise ValueError(f"The clinic already has data (table {model.__tablename__} is not empty); "
                             "demo data only goes into an empty database.")


class _Seeder:
    def __init__(self, session: Session, *, seed: int, tz: ZoneInfo, currency: str, today: date,
                 progress: Callable[[int], None] | None):
        self.session = session
        self.rng = random.Random(seed)
        self.fake = Faker("vi_VN")
        self.fake.seed_instance(seed)
        self.tz = tz
        self.currency = currency
        self.today = today
        self.progress = progress
        self.counts: dict[str, int] = {}
        # "Now" for anything that already happened: the start of today in the clinic.
        self.now = datetime.combine(today, time(0, 0), tzinfo=tz).astimezone(UTC)
        self._money_cache: dict[int, Decimal] = {}
        connection = session.connection()
        self._copy_connection = None
        if connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg":
            self._copy_connection = connection.connection.driver_connection
        if currency == "VND":
            self._unit = Decimal(1000)
        else:
            self._unit = Decimal("0.01")
            self._rate = Decimal(VND_PER_UNIT.get(currency, 25_000))

    # ---- small utilities -------------------------------------------------------------------

    def money(self, vnd: int) -> Decimal:
        """A VND amount in the clinic's currency (exact for VND)."""
        value = self._money_cache.get(vnd)
        if value is None:
            if self.currency == "VND":
                value = Decimal(vnd)
            else:
                value = (Decimal(vnd) / self._rate).quantize(Decimal("0.01"))
            self._money_cache[vnd] = value
        return value

    def round_down(self, amount: Decimal) -> Decimal:
        """Round an amount down to what a cashier would charge (1,000 VND, or a cent)."""
        unit = self._unit
        return (amount / unit).to_integral_value(rounding=ROUND_FLOOR) * unit

    def utc(self, day: date, minute: int) -> datetime:
        return datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=self.tz).astimezone(UTC)

    def insert(self, table: Table, rows: list[dict]) -> None:
        """Core ``executemany`` inserts, 5,000 rows at a time. On PostgreSQL through psycopg 3 the
        same rows go through ``COPY`` on the session's connection (same transaction): psycopg would
        otherwise send one INSERT per row, about twice as slow overall."""
        if not rows:
            return
        if self._copy_connection is not None:
            columns = list(rows[0])
            preparer = self.session.get_bind().dialect.identifier_preparer
            sql = (f"COPY {preparer.format_table(table)} ({', '.join(preparer.quote(c) for c in columns)}) "
                   "FROM STDIN")
            with self._copy_connection.cursor() as cursor, cursor.copy(sql) as copy:
                write_row = copy.write_row
                for row in rows:
                    write_row([row[c] for c in columns])
        else:
            execute = self.session.execute
            stmt = insert(table)
            for start in range(0, len(rows), CHUNK):
                execute(stmt, rows[start:start + CHUNK])
        self.counts[table.name] = self.counts.get(table.name, 0) + len(rows)

    # ---- the whole run ---------------------------------------------------------------------

    def run(self, n_patients: int) -> dict[str, int]:
        for table in (Department, Specialty, Service, Doctor, Employee, WorkSchedule, ScheduleException,
                      Medicine, StockBatch, StockMovement, Patient, Appointment, Encounter, Diagnosis, LabOrder,
                      LabResult, Prescription, PrescriptionItem, Invoice, InvoiceLine, Payment, Review):
            self.counts[table.__tablename__] = 0
        self.counts[doctor_service.name] = 0
        self.build_name_pools()
        self.build_catalogue()
        self.build_patients(n_patients)
        self.build_appointments()
        self.prepare_visits()
        self.write_catalogue()
        self.write_patients_and_visits()
        self.build_stock()
        self.write_stock()
        self.fix_sequences()
        return self.counts

    # ---- pools -----------------------------------------------------------------------------

    def build_name_pools(self) -> None:
        rng, fake = self.rng, self.fake
        vn = _VnPersonProvider
        surname_weights = dict(SURNAMES)
        self.surnames = _Weighted([(s, surname_weights.get(s, 3)) for s in _merge(vn.last_names, dict(SURNAMES))])
        faker_female = [n for n in _merge(vn.first_names_female, vn.first_names_unisex)]
        faker_male = [n for n in _merge(vn.first_names_male, vn.first_names_unisex)]
        self.given = {"female": _merge(GIVEN_FEMALE, faker_female), "male": _merge(GIVEN_MALE, faker_male)}
        self.middle = {"male": _Weighted(MIDDLE_MALE), "female": _Weighted(MIDDLE_FEMALE)}
        # The young are less often "Văn" or "Thị".
        self.middle_young = {
            "male": _Weighted([(m, w / 4 if m == "Văn" else w) for m, w in MIDDLE_MALE]),
            "female": _Weighted([(m, w / 4 if m == "Thị" else w) for m, w in MIDDLE_FEMALE]),
        }
        self.female_second_middle = _Weighted([(m, w) for m, w in MIDDLE_FEMALE if m != "Thị"])
        # Addresses: Faker's streets and wards, mostly in the clinic's city.
        streets = [fake.street_address() for _ in range(3000)]
        wards = [w[:1].upper() + w[1:] for w in (fake.commune() for _ in range(400))]
        provinces = [p[:1].upper() + p[1:] for p in (fake.province() for _ in range(200))]
        self.addresses = []
        for street in streets:
            city = "TP. Hồ Chí Minh" if rng.random() < 0.65 else rng.choice(provinces)
            self.addresses.append(f"{street}, {rng.choice(wards)}, {city}")
        self._phones: set[str] = set()
        self._national_ids: set[str] = set()
        self.cccd_province = _Weighted(CCCD_PROVINCES)

    def person_name(self, sex: str, birth_year: int, surname: str | None = None) -> tuple[str, str, str]:
        rng = self.rng
        last = surname or self.surnames.pick(rng)
        middle = (self.middle_young if birth_year >= 2000 else self.middle)[sex].pick(rng)
        given_pool = self.given[sex]
        given = given_pool[int(rng.random() * len(given_pool))]
        if given == middle:
            given = given_pool[int(rng.random() * len(given_pool))]
        if middle == "Thị" and rng.random() < 0.3:
            second = self.female_second_middle.pick(rng)
            if second != given:
                middle = f"{middle} {second}"
        return f"{last} {middle} {given}", last, given

    def phone(self) -> str:
        rng = self.rng
        while True:
            number = f"+84{MOBILE_PREFIXES[int(rng.random() * len(MOBILE_PREFIXES))]}{rng.randrange(10_000_000):07d}"
            if number not in self._phones:
                self._phones.add(number)
                return number

    # ---- catalogue: departments, services, doctors, staff, hours, medicines ------------------

    def build_catalogue(self) -> None:
        rng = self.rng
        now = self.now
        self.departments = []
        self.dept_id = {}
        for i, (code, name, _specialty, _groups, description) in enumerate(DEPARTMENTS, start=1):
            self.dept_id[code] = i
            self.departments.append(dict(id=i, code=code, name=name, description=description, active=True))
        specialty_names = _merge([d[2] for d in DEPARTMENTS], [s for s, _ in EXTRA_SPECIALTIES])
        extra = dict(EXTRA_SPECIALTIES)
        self.specialty_id = {name: i for i, name in enumerate(specialty_names, start=1)}
        self.specialties = [
            dict(id=i, name=name, description=extra.get(name) or next(
                (f"Chuyên khoa {d[1].lower()}." for d in DEPARTMENTS if d[2] == name), None))
            for name, i in self.specialty_id.items()
        ]
        # Services
        self.services = []
        self.service_code = {}
        self.service_info = []  # index = id - 1: (code, name, dept, price, minutes, weight, groups)
        for i, (code, name, dept, price, minutes, weight, groups, description) in enumerate(SERVICES, start=1):
            self.service_code[code] = i
            self.service_info.append((code, name, dept, price, minutes, weight, groups))
            self.services.append(dict(
                id=i, code=code, name=name, description=description, department_id=self.dept_id[dept],
                price=self.money(price), duration_minutes=minutes, active=True, created_at=now, updated_at=now))
        # Doctors
        self.doctors = []
        self.doctor_dept = []  # index = id - 1
        self.doctor_service_weights: list[_Weighted] = []
        self.doctor_services = []
        used_names = set()
        for i, (dept, specialty, title, sex, years, fee, languages, hospital) in enumerate(DOCTORS, start=1):
            birth_year = self.today.year - 26 - years
            while True:
                full_name, last, given = self.person_name(sex, birth_year)
                if full_name not in used_names:
                    used_names.add(full_name)
                    break
            slug = fold(f"{given}.{last}").replace(" ", "")
            bio = (f"{title} {full_name} có {years} năm kinh nghiệm trong lĩnh vực {specialty.lower()}, "
                   f"từng công tác tại {hospital}. Tốt nghiệp Đại học Y Dược TP.HCM.")
            self.doctors.append(dict(
                id=i, user_id=None, full_name=full_name, title=title, specialty_id=self.specialty_id[specialty],
                department_id=self.dept_id[dept], bio=bio, photo=None, consultation_fee=self.money(fee),
                years_of_experience=years, languages=languages, phone=self.phone(),
                email=f"bs.{slug}@example.com", active=True, calendar_token=None, created_at=now, updated_at=now))
            self.doctor_dept.append(dept)
            offered = [sid for sid, info in enumerate(self.service_info, start=1) if info[2] == dept]
            general = self.service_code[GENERAL_CONSULTATION]
            if general not in offered:
                offered.append(general)
            self.doctor_services.append(offered)
            weights = []
            for sid in offered:
                info = self.service_info[sid - 1]
                weight = info[5] if info[2] == dept else 0.6  # general consultation outside internal medicine
                weights.append((sid, weight))
            self.doctor_service_weights.append(_Weighted(weights))
        self.doctor_service_rows = [dict(doctor_id=d, service_id=s)
                                    for d, offered in enumerate(self.doctor_services, start=1) for s in offered]
        # Staff
        self.employees = []
        for i, (position, dept, sex) in enumerate(EMPLOYEES, start=1):
            full_name, last, given = self.person_name(sex, self.today.year - rng.randint(22, 50))
            slug = fold(f"{given}.{last}").replace(" ", "")
            self.employees.append(dict(
                id=i, user_id=None, full_name=full_name, position=position,
                department_id=self.dept_id[dept] if dept else None, phone=self.phone(),
                email=f"nv.{slug}{i}@example.com", active=True, created_at=now, updated_at=now))
        # Weekly hours (minutes of the day, clinic time), and the exceptions decided up front:
        # leave and training in the last 90 days and the next four weeks. Holidays come later.
        self.sessions = []  # per doctor: weekday -> list of (start, end) minutes
        for d in range(len(DOCTORS)):
            week = {wd: [(_minutes(a), _minutes(b)) for a, b in WEEKDAY_SESSIONS] for wd in range(5)}
            if d in SATURDAY_DOCTORS:
                week[5] = [(_minutes(a), _minutes(b)) for a, b in SATURDAY_SESSIONS]
            self.sessions.append(week)
        self.exceptions = []  # (doctor index, kind, start date, end date, start min | None, end min | None, reason)
        for d in range(len(DOCTORS)):
            start = self.today - timedelta(days=rng.randint(10, 90))
            self.exceptions.append((d, "leave", start, start + timedelta(days=rng.randint(0, 2)), None, None,
                                    "Nghỉ phép năm"))
        for d in rng.sample(range(len(DOCTORS)), 3):
            start = self.today + timedelta(days=rng.randint(3, FUTURE_DAYS - 4))
            self.exceptions.append((d, "leave", start, start + timedelta(days=rng.randint(0, 1)), None, None,
                                    rng.choice(("Nghỉ phép năm", "Việc gia đình"))))
        for d in rng.sample(range(len(DOCTORS)), 3):
            day = self.today + timedelta(days=rng.randint(1, FUTURE_DAYS - 1))
            self.exceptions.append((d, "training", day, day, 13 * 60 + 30, 17 * 60,
                                    "Hội thảo cập nhật kiến thức y khoa liên tục (CME)"))
        for d in rng.sample(range(len(DOCTORS)), 2):
            day = self.today - timedelta(days=rng.randint(5, 60))
            self.exceptions.append((d, "training", day, day, 7 * 60 + 30, 11 * 60 + 30,
                                    "Tập huấn chuyên môn tại Sở Y tế"))
        self.blocked: dict[tuple[int, date], list[tuple[int, int]] | None] = {}
        for d, _kind, start, end, t0, t1, _reason in self.exceptions:
            day = start
            while day <= end:
                if t0 is None:
                    self.blocked[(d, day)] = None
                elif self.blocked.get((d, day), []) is not None:
                    self.blocked.setdefault((d, day), []).append((t0, t1))
                day += timedelta(days=1)

    def day_sessions(self, d: int, day: date) -> list[tuple[int, int]]:
        week = self.sessions[d].get(day.weekday())
        if not week or _holiday(day):
            return []
        key = (d, day)
        if key not in self.blocked:
            return week
        blocks = self.blocked[key]
        if blocks is None:
            return []
        free = []
        for s, e in week:
            pieces = [(s, e)]
            for b0, b1 in blocks:
                pieces = [p for ps, pe in pieces
                          for p in ((ps, min(pe, b0)), (max(ps, b1), pe)) if p[1] - p[0] >= 15]
            free.extend(pieces)
        return free

    def pack_day(self, d: int, day: date, out: list) -> None:
        """Candidate appointments of doctor ``d`` on ``day``, back to back with small gaps."""
        rng = self.rng
        weights = self.doctor_service_weights[d]
        info = self.service_info
        for s, e in self.day_sessions(d, day):
            cursor = s
            while True:
                sid = weights.pick(rng)
                end = cursor + info[sid - 1][4]
                if end > e:
                    break
                out.append((d, sid, day, cursor, end))
                r = rng.random()
                cursor = end + (0 if r < 0.55 else 5 if r < 0.8 else 10 if r < 0.93 else 15)

    # ---- patients --------------------------------------------------------------------------

    def build_patients(self, n: int) -> None:
        rng, today = self.rng, self.today
        ages = _Weighted([((0, 5), 9), ((6, 15), 13), ((16, 40), 35), ((41, 60), 25), ((61, 90), 18)])
        blood = _Weighted([(None, 20), ("unknown", 8), ("O+", 30), ("B+", 22), ("A+", 15), ("AB+", 4.5),
                           ("O-", 0.2), ("A-", 0.1), ("B-", 0.1), ("AB-", 0.1)])
        self.patients: list[_Patient] = []
        self.patient_rows_extra: list[tuple] = []
        addresses = self.addresses
        for pid in range(1, n + 1):
            p = _Patient()
            p.id = pid
            p.code = f"{PATIENT_CODE_PREFIX}{pid:06d}"
            p.sex = "female" if rng.random() < 0.52 else "male"
            lo, hi = ages.pick(rng)
            age_days = rng.randint(lo * 365 + (30 if lo == 0 else 0), hi * 365 + 364)
            p.dob = today - timedelta(days=age_days)
            age = age_days // 365
            p.group = "c" if age < 16 else ("f" if p.sex == "female" else "m")
            p.full_name, p.last, given = self.person_name(p.sex, p.dob.year)
            p.phone = self.phone() if age >= 14 or rng.random() < 0.3 else None
            p.first_visit = None
            # The rest is only needed for the row itself.
            email = None
            if age >= 16 and rng.random() < 0.45:
                email = (f"{fold(given)}{fold(p.last)}{p.dob.year % 100:02d}"
                         f"@{EMAIL_DOMAINS[int(rng.random() * 3)]}").replace(" ", "")
            national_id = None
            if age >= 14 and rng.random() < 0.9:
                century = 0 if p.dob.year < 2000 else 2
                digit = century + (1 if p.sex == "female" else 0)
                while True:
                    candidate = (f"{self.cccd_province.pick(rng)}{digit}{p.dob.year % 100:02d}"
                                 f"{rng.randrange(1_000_000):06d}")
                    if candidate not in self._national_ids:
                        self._national_ids.add(candidate)
                        national_id = candidate
                        break
            insurance = None
            if rng.random() < 0.55:
                kind = ("TE" if age < 6 else "HS" if age < 18 else "HT" if age >= 60
                        else ("DN", "GD", "HC", "CN")[int(rng.random() * 4)])
                level = 1 if kind == "TE" else (2 if kind == "HT" else 4)
                insurance = f"{kind}{level}79{rng.randrange(10_000_000_000):010d}"
            allergies = ALLERGIES[int(rng.random() * len(ALLERGIES))] if rng.random() < 0.07 else None
            if age < 16 or rng.random() < 0.3:
                parent_sex = "female" if rng.random() < 0.6 else "male"
                contact_name = self.person_name(parent_sex, p.dob.year - 28,
                                                surname=p.last if parent_sex == "male" and age < 16 else None)[0]
                contact_phone = self.phone()
            else:
                contact_name = contact_phone = None
            self.patients.append(p)
            self.patient_rows_extra.append((email, addresses[int(rng.random() * len(addresses))], national_id,
                                            insurance, blood.pick(rng), allergies, contact_name, contact_phone))
        self.by_group: dict[str, list[int]] = {"c": [], "f": [], "m": []}
        for p in self.patients:
            self.by_group[p.group].append(p.id)

    # ---- appointments ----------------------------------------------------------------------

    def build_appointments(self) -> None:
        rng, today = self.rng, self.today
        dept_groups = {code: groups for code, _n, _s, groups, _d in DEPARTMENTS}
        dept_doctors = defaultdict(list)
        for d, dept in enumerate(self.doctor_dept):
            dept_doctors[dept].append(d)
        # What the patients need: visits per department and patient group.
        visits = _Weighted(PAST_VISITS_PER_PATIENT)
        wanted = {dept: {"c": [], "f": [], "m": []} for dept in dept_groups}
        visit_dept = {g: _Weighted(w) for g, w in VISIT_DEPARTMENTS.items()}
        for p in self.patients:
            for _ in range(visits.pick(rng)):
                wanted[visit_dept[p.group].pick(rng)][p.group].append(p.id)
        demand = {dept: sum(len(v) for v in groups.values()) for dept, groups in wanted.items()}
        # Candidate slots, going back day by day until every department has room for its demand.
        past_slots: dict[str, list] = {dept: [] for dept in dept_groups}
        need = {dept: math.ceil(n * 1.15) + 5 if n else 0 for dept, n in demand.items()}
        day = today - timedelta(days=1)
        days = 0
        while True:
            for d, dept in enumerate(self.doctor_dept):
                self.pack_day(d, day, past_slots[dept])
            days += 1
            if days >= MIN_HISTORY_DAYS and all(len(past_slots[k]) >= need[k] for k in need):
                break
            if days > 366 * 30:
                break
            day -= timedelta(days=1)
        self.history_start = day
        future_slots: dict[str, list] = {dept: [] for dept in dept_groups}
        for offset in range(FUTURE_DAYS):
            day = today + timedelta(days=offset)
            for d, dept in enumerate(self.doctor_dept):
                self.pack_day(d, day, future_slots[dept])
        # Fill the slots. A patient is never in two places at once, nor seen before birth.
        busy: dict[int, list[tuple[date, int, int]]] = defaultdict(list)
        patients = self.patients
        service_groups = [info[6] for info in self.service_info]
        appts: list[_Appt] = []
        past_status = _Weighted([("completed", 84), ("cancelled", 10), ("no_show", 6)])

        service_ages = [SERVICE_AGES.get(info[0], (0, 200)) for info in self.service_info]

        def free(pid: int, sid: int, day: date, s: int, e: int) -> bool:
            dob = patients[pid - 1].dob
            if (day - dob).days < 7:  # not seen before birth, nor in the first week
                return False
            lo, hi = service_ages[sid - 1]
            if not lo <= (day - dob).days // 365 <= hi:
                return False
            for bday, bs, be in busy.get(pid, ()):
                if bday == day and bs < e and s < be:
                    return False
            return True

        for dept, slots in past_slots.items():
            queues = wanted[dept]
            left = demand[dept]
            if not left:
                continue
            rng.shuffle(slots)
            for d, sid, day, s, e in slots:
                groups = [g for g in service_groups[sid - 1] if queues[g]]
                if not groups:
                    continue
                total = sum(len(queues[g]) for g in groups)
                r = rng.random() * total
                for g in groups:
                    r -= len(queues[g])
                    if r < 0:
                        break
                queue = queues[g]
                for _attempt in range(4):
                    j = int(rng.random() * len(queue))
                    pid = queue[j]
                    if free(pid, sid, day, s, e):
                        queue[j] = queue[-1]
                        queue.pop()
                        busy[pid].append((day, s, e))
                        appts.append(_Appt(pid, d, sid, day, s, e, past_status.pick(rng)))
                        left -= 1
                        break
                if not left:
                    break
        for dept, slots in future_slots.items():
            target = min(int(len(slots) * 0.5), max(2 * len(dept_doctors[dept]), round(demand[dept] * 0.08)))
            if not target or not self.patients:
                continue
            rng.shuffle(slots)
            for d, sid, day, s, e in slots:
                groups = [g for g in service_groups[sid - 1] if g in dept_groups[dept] and self.by_group[g]]
                if not groups:
                    continue
                g = groups[int(rng.random() * len(groups))]
                pool = self.by_group[g]
                for _attempt in range(4):
                    pid = pool[int(rng.random() * len(pool))]
                    if free(pid, sid, day, s, e):
                        busy[pid].append((day, s, e))
                        status = "confirmed" if rng.random() < 0.6 else "requested"
                        appts.append(_Appt(pid, d, sid, day, s, e, status))
                        target -= 1
                        break
                if not target:
                    break
        # Chronological ids.
        utc = self.utc
        for a in appts:
            a.start = utc(a.day, a.start_min)
            a.end = utc(a.day, a.end_min)
            a.chunk = (a.patient - 1) // CHUNK
        appts.sort(key=lambda a: (a.start, a.doctor))
        for i, a in enumerate(appts, start=1):
            a.id = i
        self.appts = appts

    # ---- visits: appointments, encounters, prescriptions, labs, invoices, reviews -------------

    def prepare_visits(self) -> None:
        """What must follow time order across all patients, decided before rows are written chunk by
        chunk: encounter and invoice ids (one each per completed visit), invoice numbers (per month),
        and each doctor's queue numbers of the day."""
        month_seq: dict[str, int] = defaultdict(int)
        queue_seq: dict[tuple[int, date], int] = defaultdict(int)
        visit = 0
        self.chunk_appts: dict[int, list[_Appt]] = defaultdict(list)
        for a in self.appts:  # in time order
            a.visit = a.invoice_number = a.queue_number = None
            if a.status == "completed":
                visit += 1
                a.visit = visit
                month = f"{a.day:%Y%m}"
                month_seq[month] += 1
                a.invoice_number = f"INV-{month}-{month_seq[month]:06d}"
                queue_seq[(a.doctor, a.day)] += 1
                a.queue_number = queue_seq[(a.doctor, a.day)]
            self.chunk_appts[a.chunk].append(a)
        self.med_index = {m.code: i for i, m in enumerate(MEDICINES)}
        self.dispense_events: list[list[tuple]] = [[] for _ in MEDICINES]
        self.ids: dict[str, int] = defaultdict(int)
        self.dx_cache: dict[tuple, list[Dx]] = {}

    def visit_rows(self, appts: list[_Appt]) -> dict[str, list[dict]]:
        """Rows for these appointments (one chunk of patients): the appointments themselves and, for
        completed visits, encounter, diagnoses, labs, prescription, invoice, payments, review."""
        rng, now = self.rng, self.now
        money = self.money
        b: dict[str, list[dict]] = defaultdict(list)
        med_index = self.med_index
        channels = _Weighted(CHANNEL_WEIGHTS)
        methods = _Weighted(PAYMENT_METHODS)
        ratings = _Weighted([(5, 50), (4, 30), (3, 12), (2, 5), (1, 3)])
        ids = self.ids
        patients = self.patients
        doctor_dept = self.doctor_dept
        service_info = self.service_info
        dx_cache = self.dx_cache
        zero = Decimal(0)
        one = Decimal(1)
        future_channels = _Weighted([(c, w) for c, w in CHANNEL_WEIGHTS if c != "walk_in"])

        def near(x: int) -> int:
            return max(1, min(5, x + (0 if rng.random() < 0.6 else (-1 if rng.random() < 0.5 else 1))))

        def diagnoses_for(codes: tuple[str, ...], group: str, age: int) -> list[Dx]:
            key = (codes, group, age)
            found = dx_cache.get(key)
            if found is None:
                found = [dx for dx in (DIAGNOSES[c] for c in codes)
                         if group in dx.groups and dx.min_age <= age <= dx.max_age]
                if not found:
                    found = [DIAGNOSES[c] for c in codes]
                dx_cache[key] = found
            return found

        for a in appts:
            p = patients[a.patient - 1]
            code, service_name, _dept, price, _minutes, _weight, _groups = service_info[a.service - 1]
            dept = doctor_dept[a.doctor]
            age = (a.day - p.dob).days // 365
            group = "c" if age < 16 else ("f" if p.sex == "female" else "m")
            if code in SERVICE_DIAGNOSES:
                codes = SERVICE_DIAGNOSES[code]
            elif code == GENERAL_CONSULTATION:
                codes = DEPARTMENT_DIAGNOSES["NHI" if group == "c" else "NTQ"]
            else:
                codes = DEPARTMENT_DIAGNOSES[dept]
            choices = diagnoses_for(codes, group, age)
            dx = choices[int(rng.random() * len(choices))]
            complaint = dx.complaint.format(n=rng.randint(1, 5)) if "{n}" in dx.complaint else dx.complaint
            past = a.status in ("completed", "cancelled", "no_show")
            channel = channels.pick(rng) if past else future_channels.pick(rng)
            if channel == "walk_in":
                created = a.start - timedelta(minutes=rng.randint(10, 40))
            else:
                created = a.start - timedelta(minutes=rng.randint(60, 14 * 24 * 60))
            if created > now:
                created = now - timedelta(minutes=rng.randint(5, 600))
            row = dict(id=a.id, patient_id=a.patient, doctor_id=a.doctor + 1, service_id=a.service,
                       start_at=a.start, end_at=a.end, status=a.status, channel=channel, reason=complaint,
                       notes=None, queue_date=None, queue_number=None, checked_in_at=None, cancelled_by_id=None,
                       cancelled_at=None, cancel_reason=None, series_id=None, created_by_id=None,
                       created_at=created, updated_at=created)
            b["appointment"].append(row)
            if p.first_visit is None or created < p.first_visit:
                p.first_visit = created
            if a.status == "cancelled":
                cancelled = a.start - timedelta(minutes=rng.randint(30, 3 * 24 * 60))
                if cancelled <= created:
                    cancelled = created + (a.start - created) / 2
                row.update(cancelled_at=cancelled, cancel_reason=CANCEL_REASONS[int(rng.random() * 6)],
                           updated_at=cancelled)
                continue
            if a.status != "completed":
                if a.status == "no_show":
                    row["updated_at"] = a.end + timedelta(hours=1)
                continue
            # Completed: checked in, seen, written up, billed.
            checked_in = a.start - timedelta(minutes=rng.randint(3, 25))
            if checked_in < created:
                checked_in = created
            row.update(queue_date=a.day, queue_number=a.queue_number, checked_in_at=checked_in,
                       updated_at=a.end)
            enc_id = a.visit
            signed = a.end + timedelta(minutes=rng.randint(1, 15))
            b["encounter"].append(self.encounter_row(enc_id, a, p, age, dx, complaint, signed))
            ids["diagnosis"] += 1
            b["diagnosis"].append(dict(id=ids["diagnosis"], encounter_id=enc_id, icd10_code=dx.code,
                                       text=f"{dx.vi} ({dx.en})", is_primary=True))
            if len(choices) > 1 and rng.random() < 0.15:
                other = choices[int(rng.random() * len(choices))]
                if other.code != dx.code:
                    ids["diagnosis"] += 1
                    b["diagnosis"].append(dict(id=ids["diagnosis"], encounter_id=enc_id, icd10_code=other.code,
                                               text=f"{other.vi} ({other.en})", is_primary=False))
            lines = [("service", a.service, None, service_name, one, money(price))]
            # Laboratory
            package = LAB_PACKAGES.get(code)
            tests: tuple[str, ...] = ()
            billed = False
            if package:
                extra = ("LIVER", "KIDNEY", "UA", "HBA1C")
                tests = package + ((extra[int(rng.random() * 4)],) if code == "XN-TQ" and rng.random() < 0.5
                                   else ())
            elif dx.labs and rng.random() < 0.2:
                tests, billed = dx.labs, True
            for test in tests:
                self.lab_rows(b, ids, enc_id, a, test, dx)
                if billed:
                    name, lab_price, _analytes = LAB_TESTS[test]
                    lines.append(("lab", None, None, f"Xét nghiệm: {name}", one, money(lab_price)))
            # Prescription
            if dx.meds and rng.random() < 0.9:
                chosen: list[Med] = []
                for k, alternatives in enumerate(dx.meds):
                    if k and rng.random() > 0.65:
                        continue
                    med_code = alternatives[int(rng.random() * len(alternatives))]
                    if group == "c" and not MEDICINES[med_index[med_code]].child_ok:
                        med_code = CHILD_SUBSTITUTES.get(med_code)
                        if med_code is None:
                            continue
                    med = MEDICINES[med_index[med_code]]
                    if med not in chosen:
                        chosen.append(med)
                if chosen:
                    r = rng.random()
                    status = "dispensed" if r < 0.82 else "issued" if r < 0.96 else "partially_dispensed"
                    if status == "partially_dispensed" and len(chosen) < 2:
                        status = "dispensed"
                    ids["prescription"] += 1
                    presc_id = ids["prescription"]
                    issued = signed
                    dispensed_at = issued + timedelta(minutes=rng.randint(10, 45)) if status != "issued" else None
                    b["prescription"].append(dict(
                        id=presc_id, encounter_id=enc_id, patient_id=a.patient, doctor_id=a.doctor + 1,
                        status=status, notes=dx.plan if rng.random() < 0.3 else None, issued_at=issued,
                        dispensed_at=dispensed_at, dispensed_by_id=None, created_at=a.end,
                        updated_at=dispensed_at or issued))
                    for k, med in enumerate(chosen):
                        days = med.days[int(rng.random() * len(med.days))]
                        if med.per_course:
                            quantity = med.per_course
                            dose = med.dose
                        else:
                            quantity = int(med.dose) * med.per_day * days
                            dose = f"{med.dose} {med.unit}"
                        if status == "dispensed":
                            given = quantity
                        elif status == "partially_dispensed":
                            given = quantity if k == 0 else 0
                        else:
                            given = 0
                        ids["prescription_item"] += 1
                        b["prescription_item"].append(dict(
                            id=ids["prescription_item"], prescription_id=presc_id, medicine_id=med_index[med.code] + 1,
                            dose=dose, frequency=f"{med.per_day} lần/ngày", duration_days=days, route=med.route,
                            quantity=quantity, dispensed_quantity=given, instructions=med.instructions))
                        if given:
                            self.dispense_events[med_index[med.code]].append((dispensed_at, given, presc_id))
                            lines.append(("medicine", None, med_index[med.code] + 1,
                                          f"{med.name} {med.strength} ({med.unit})", Decimal(given), money(med.price)))
            # Invoice
            inv_id = a.visit
            issued_at = signed + timedelta(minutes=rng.randint(1, 10))
            subtotal = zero
            for kind, service_id, medicine_id, description, quantity, unit_price in lines:
                amount = quantity * unit_price
                subtotal += amount
                ids["invoice_line"] += 1
                b["invoice_line"].append(dict(
                    id=ids["invoice_line"], invoice_id=inv_id, kind=kind, service_id=service_id,
                    medicine_id=medicine_id, description=description, quantity=quantity, unit_price=unit_price,
                    amount=amount))
            discount, notes = zero, None
            r = rng.random()
            if r < 0.10:
                discount, notes = self.round_down(subtotal / 10), "Giảm 10% cho khách hàng thân thiết"
            elif r < 0.14 and age >= 60:
                discount, notes = self.round_down(subtotal / 20), "Giảm 5% cho người cao tuổi"
            tax = zero
            total = subtotal - discount + tax
            r = rng.random()
            status = "paid" if r < 0.93 else "partially_paid" if r < 0.96 else "issued" if r < 0.99 else "void"
            payments: list[Decimal] = []
            if status == "paid":
                first = self.round_down(total * Decimal("0.5"))
                payments = [first, total - first] if rng.random() < 0.08 and zero < first < total else [total]
            elif status == "partially_paid":
                part = self.round_down(total * Decimal(rng.randint(30, 70)) / 100)
                if zero < part < total:
                    payments = [part]
                else:
                    status, payments = "paid", [total]
            paid = sum(payments, zero)
            if status == "void":
                notes = "Hủy hóa đơn do nhập sai dịch vụ"
            b["invoice"].append(dict(
                id=inv_id, number=a.invoice_number, patient_id=a.patient,
                appointment_id=a.id, status=status, currency=self.currency, subtotal=subtotal, discount=discount,
                tax=tax, total=total, amount_paid=paid, issued_at=issued_at, notes=notes, created_by_id=None,
                created_at=issued_at - timedelta(minutes=2), updated_at=issued_at))
            paid_at = issued_at
            for amount in payments:
                ids["payment"] += 1
                pay_id = ids["payment"]
                paid_at = paid_at + timedelta(minutes=rng.randint(1, 20))
                method = methods.pick(rng)
                provider, reference = (("manual", f"PT{pay_id:08d}") if method == "cash"
                                       else ("vietqr", f"FT{pay_id:010d}") if method == "bank_transfer"
                                       else ("pos", f"POS{pay_id:010d}"))
                b["payment"].append(dict(
                    id=pay_id, invoice_id=inv_id, method=method, amount=amount, status="succeeded", provider=provider,
                    provider_reference=reference, idempotency_key=f"demo-{pay_id}", received_by_id=None,
                    paid_at=paid_at, created_at=paid_at, updated_at=paid_at))
            # Review
            if rng.random() < 0.18:
                overall = ratings.pick(rng)
                comments = REVIEW_COMMENTS[overall]
                review_at = a.end + timedelta(minutes=rng.randint(60, 3 * 24 * 60))
                if review_at > now:
                    review_at = a.end + timedelta(minutes=90)
                r = rng.random()
                review_status = "approved" if r < 0.75 else "pending" if r < 0.95 else "rejected"
                moderated = None
                if review_status != "pending":
                    moderated = min(review_at + timedelta(minutes=rng.randint(30, 2 * 24 * 60)), now)
                    if moderated < review_at:
                        moderated = review_at
                ids["review"] += 1
                b["review"].append(dict(
                    id=ids["review"], patient_id=a.patient, doctor_id=a.doctor + 1, service_id=a.service,
                    appointment_id=a.id, rating_professional=near(overall), rating_attitude=near(overall),
                    rating_waiting_time=near(overall), rating_overall=overall,
                    comment=comments[int(rng.random() * len(comments))], status=review_status,
                    moderated_by_id=None, moderated_at=moderated, created_at=review_at))
        return b

    def encounter_row(self, enc_id: int, a: _Appt, p: _Patient, age: int, dx: Dx, complaint: str,
                      signed: datetime) -> dict:
        rng = self.rng
        systolic = diastolic = None
        if age < 1:
            height = rng.uniform(50, 76)
            weight = rng.uniform(3.2, 10)
            pulse, resp = rng.randint(100, 150), rng.randint(30, 45)
        elif age < 16:
            height = min(175.0, 75 + 6 * age + rng.uniform(-6, 6))
            weight = (height / 100) ** 2 * rng.uniform(14, 21)
            pulse, resp = rng.randint(75, 115), rng.randint(18, 28)
            if age >= 6:
                systolic, diastolic = rng.randint(90, 115), rng.randint(55, 75)
        else:
            height = rng.uniform(160, 180) if p.sex == "male" else rng.uniform(148, 168)
            weight = (height / 100) ** 2 * rng.uniform(18, 29)
            pulse, resp = rng.randint(60, 98), rng.randint(14, 20)
            if dx.code == "I10":
                systolic, diastolic = rng.randint(140, 175), rng.randint(88, 105)
            else:
                systolic = rng.randint(100, 135) + (10 if age > 60 else 0)
                diastolic = rng.randint(60, 85)
        if dx.fever and rng.random() < 0.7:
            temperature = rng.randint(375, 395)
            pulse = min(pulse + 10, 180)
        else:
            temperature = rng.randint(362, 372)
        spo2 = rng.randint(94, 99) if dx.code in ("J20.9", "J45.9") else rng.randint(96, 100)
        follow_up = a.day + timedelta(days=dx.follow_up) if dx.follow_up and rng.random() < 0.7 else None
        history = (PAST_HISTORY_CHILD if age < 16 else PAST_HISTORY_ADULT)
        return dict(
            id=enc_id, appointment_id=a.id, patient_id=a.patient, doctor_id=a.doctor + 1, chief_complaint=complaint,
            history=history[int(rng.random() * len(history))], examination=dx.exam,
            systolic_bp=systolic, diastolic_bp=diastolic, pulse=pulse,
            temperature_c=Decimal(temperature).scaleb(-1), respiratory_rate=resp, spo2=spo2,
            weight_kg=Decimal(round(weight * 10)).scaleb(-1), height_cm=Decimal(round(height * 10)).scaleb(-1),
            treatment_plan=dx.plan + (f" Tái khám sau {dx.follow_up} ngày." if follow_up else ""),
            follow_up_date=follow_up, signed_by_id=None, signed_at=signed, created_at=a.start, updated_at=signed)

    def lab_rows(self, b, ids, enc_id: int, a: _Appt, test: str, dx: Dx) -> None:
        rng, now = self.rng, self.now
        name, _price, analytes = LAB_TESTS[test]
        ids["lab_order"] += 1
        order_id = ids["lab_order"]
        ordered = a.start + timedelta(minutes=rng.randint(5, 15))
        resulted = ordered + timedelta(minutes=rng.randint(60, 240))
        final = resulted <= now - timedelta(hours=6)
        b["lab_order"].append(dict(
            id=order_id, encounter_id=enc_id, patient_id=a.patient, doctor_id=a.doctor + 1, test_code=test,
            test_name=name, status="completed" if final else "in_progress", notes=None, created_at=ordered,
            updated_at=resulted))
        abnormal = dx.code in ("E11.9", "R73.9", "E78.5", "D50.9", "K76.0")
        for analyte, unit, low, high, decimals in analytes:
            span = high - low
            r = rng.random()
            if abnormal and r < 0.6 or r < 0.12:
                value = high + span * rng.uniform(0.05, 0.6) if rng.random() < 0.75 else low - span * rng.uniform(
                    0.02, 0.2)
            else:
                value = rng.uniform(low + span * 0.05, high - span * 0.05)
            if analyte.startswith("HGB") and dx.code == "D50.9":
                value = rng.uniform(85, 115)
            value = max(value, 0.0)
            flag = "high" if value > high else "low" if value < low else "normal"
            if flag == "high" and value > high + span:
                flag = "critical"
            text_value = f"{value:.{decimals}f}"
            ids["lab_result"] += 1
            b["lab_result"].append(dict(
                id=ids["lab_result"], lab_order_id=order_id, analyte=analyte, value=text_value,
                numeric_value=Decimal(text_value), unit=unit,
                reference_range=f"{low:.{decimals}f}–{high:.{decimals}f}", flag=flag,
                status="final" if final else "preliminary", released_to_patient=final and rng.random() < 0.8,
                resulted_at=resulted, resulted_by_id=None, created_at=resulted, updated_at=resulted))

    # ---- stock: batches and the ledger -----------------------------------------------------

    def build_stock(self) -> None:
        """Receive batches as the dispensing needs them (FIFO by expiry), write off what expires,
        then top up for today: most medicines well stocked, a few short-dated lots, a few
        medicines below their reorder level."""
        rng, tz, today, now = self.rng, self.tz, self.today, self.now
        history_days = max((today - self.history_start).days, 1)
        self.batches: list[_Batch] = []
        movements: list[tuple] = []  # (at, order, kind, batch, medicine index, quantity, ref type, ref id, note)
        lot_seq = [0] * len(MEDICINES)
        self.reorder_levels = []

        def new_batch(mi: int, received_at: datetime, quantity: int, expiry: date | None = None) -> _Batch:
            med = MEDICINES[mi]
            lot_seq[mi] += 1
            b = _Batch()
            b.medicine = mi
            b.lot = f"{received_at.astimezone(tz):%y%m}{mi + 1:02d}-{lot_seq[mi]:03d}"
            b.received_at = received_at
            received_day = received_at.astimezone(tz).date()
            b.expiry = expiry or received_day + timedelta(days=30 * med.shelf_months - rng.randint(60, 240))
            b.received = b.remaining = quantity
            b.cost = self.money(max(10, round(med.price * rng.uniform(0.55, 0.75) / 10) * 10))
            b.supplier = SUPPLIERS[int(rng.random() * len(SUPPLIERS))]
            self.batches.append(b)
            movements.append((received_at, 0, "receipt", b, mi, quantity, "stock_batch", None,
                              f"Nhập kho từ {b.supplier}"))
            return b

        def write_off(b: _Batch) -> None:
            at = datetime.combine(b.expiry, time(7, 0), tzinfo=tz).astimezone(UTC)
            movements.append((at, 2, "expiry_write_off", b, b.medicine, -b.remaining, "stock_batch", None,
                              "Hủy thuốc hết hạn sử dụng"))
            b.remaining = 0

        for mi, med in enumerate(MEDICINES):
            events = self.dispense_events[mi]
            events.sort(key=lambda e: e[0])
            demand = sum(e[1] for e in events)
            rate = demand / history_days  # units per day
            lot_size = max(med.pack, math.ceil(rate * 60 / med.pack) * med.pack)
            reorder = max(med.pack // 5 or 1, int(round(rate * 14 / 10.0)) * 10)
            open_batches: deque[_Batch] = deque()
            for at, quantity, presc_id in events:
                day = at.astimezone(tz).date()
                while quantity:
                    while open_batches and (open_batches[0].remaining == 0 or open_batches[0].expiry <= day):
                        b = open_batches.popleft()
                        if b.remaining:
                            write_off(b)
                    if not open_batches:
                        size = max(quantity, round(lot_size * rng.uniform(0.8, 1.5) / med.pack) * med.pack)
                        received = at - timedelta(days=rng.randint(1, 6), minutes=rng.randint(0, 600))
                        open_batches.append(new_batch(mi, received, size))
                    b = open_batches[0]
                    take = min(quantity, b.remaining)
                    b.remaining -= take
                    quantity -= take
                    movements.append((at, 1, "dispense", b, mi, -take, "prescription", presc_id, None))
            for b in list(open_batches):
                if b.expiry < today and b.remaining:
                    write_off(b)
            self.reorder_levels.append(reorder)
        # Today's stock: a few short-dated lots, a few medicines running low, the rest topped up.
        order = list(range(len(MEDICINES)))
        rng.shuffle(order)
        short_dated, running_low = order[:5], order[5:10]
        for mi in short_dated:
            med = MEDICINES[mi]
            received = now - timedelta(days=rng.randint(60, 150), minutes=rng.randint(0, 600))
            expiry = today + timedelta(days=rng.randint(3, 27))
            new_batch(mi, received, med.pack * rng.randint(1, 3), expiry=expiry)
        for mi, med in enumerate(MEDICINES):
            stock = sum(b.remaining for b in self.batches if b.medicine == mi)
            reorder = self.reorder_levels[mi]
            if mi in running_low:
                if stock >= reorder:
                    self.reorder_levels[mi] = reorder = (stock // 10 + 1) * 10 + med.pack // 2
                continue
            if stock < 2 * reorder + med.pack:
                size = max(3 * reorder, med.pack * 2)
                size = math.ceil(size / med.pack) * med.pack
                received = now - timedelta(days=rng.randint(2, 25), minutes=rng.randint(0, 600))
                new_batch(mi, received, size)
        # Ids in order of receipt; ledger ids in time order.
        self.batches.sort(key=lambda b: (b.received_at, b.medicine))
        for i, b in enumerate(self.batches, start=1):
            b.id = i
        movements.sort(key=lambda m: (m[0], m[1], m[3].id))
        self.movements = movements

    def write_stock(self) -> None:
        self.session.execute(
            update(Medicine.__table__).where(Medicine.__table__.c.id == bindparam("medicine_id"))
            .values(reorder_level=bindparam("level")),
            [{"medicine_id": i, "level": level} for i, level in enumerate(self.reorder_levels, start=1)])
        self.insert(StockBatch.__table__, [
            dict(id=b.id, medicine_id=b.medicine + 1, lot_number=b.lot, expiry_date=b.expiry, quantity=b.remaining,
                 unit_cost=b.cost, created_at=b.received_at, updated_at=b.received_at)
            for b in self.batches])
        rows = []
        for i, (at, _order, kind, b, mi, quantity, ref_type, ref_id, note) in enumerate(self.movements, start=1):
            rows.append(dict(id=i, batch_id=b.id, medicine_id=mi + 1, kind=kind, quantity=quantity,
                             reference_type=ref_type, reference_id=b.id if ref_type == "stock_batch" else ref_id,
                             note=note, actor_id=None, created_at=at))
            if len(rows) == CHUNK:
                self.insert(StockMovement.__table__, rows)
                rows = []
        self.insert(StockMovement.__table__, rows)

    # ---- writing ---------------------------------------------------------------------------

    def write_catalogue(self) -> None:
        now = self.now
        self.insert(Department.__table__, self.departments)
        self.insert(Specialty.__table__, self.specialties)
        self.insert(Service.__table__, self.services)
        self.insert(Doctor.__table__, self.doctors)
        self.insert(doctor_service, self.doctor_service_rows)
        self.insert(Employee.__table__, self.employees)
        valid_from = self.history_start - timedelta(days=30)
        schedules = []
        for d, week in enumerate(self.sessions):
            for weekday in sorted(week):
                for s, e in week[weekday]:
                    schedules.append(dict(id=len(schedules) + 1, doctor_id=d + 1, weekday=weekday,
                                          start_time=time(s // 60, s % 60), end_time=time(e // 60, e % 60),
                                          valid_from=valid_from, valid_to=None))
        self.insert(WorkSchedule.__table__, schedules)
        # Exceptions: the ones decided up front, and the public holidays of the whole period.
        exceptions = list(self.exceptions)
        day = self.history_start
        end = self.today + timedelta(days=FUTURE_DAYS)
        holidays = []
        while day <= end:
            name = _holiday(day)
            if name and (not holidays or holidays[-1][1] != day - timedelta(days=1) or holidays[-1][2] != name):
                holidays.append([day, day, name])
            elif name:
                holidays[-1][1] = day
            day += timedelta(days=1)
        for start, stop, name in holidays:
            for d in range(len(DOCTORS)):
                exceptions.append((d, "holiday", start, stop, None, None, name))
        exceptions.sort(key=lambda x: (x[2], x[0]))
        self.insert(ScheduleException.__table__, [
            dict(id=i, doctor_id=d + 1, kind=kind, start_date=start, end_date=stop,
                 start_time=time(t0 // 60, t0 % 60) if t0 is not None else None,
                 end_time=time(t1 // 60, t1 % 60) if t1 is not None else None, reason=reason)
            for i, (d, kind, start, stop, t0, t1, reason) in enumerate(exceptions, start=1)])
        medicines = []
        for i, med in enumerate(MEDICINES, start=1):
            medicines.append(dict(
                id=i, code=med.code, name=med.name, active_ingredient=med.ingredient, strength=med.strength,
                dosage_form=med.form, unit=med.unit, price=self.money(med.price),
                reorder_level=0, active=True, created_at=now, updated_at=now))  # set once stock is known
        self.insert(Medicine.__table__, medicines)

    def write_patients_and_visits(self) -> None:
        rng, now = self.rng, self.now
        history_minutes = max(int((now - self.utc(self.history_start, 7 * 60)).total_seconds() // 60), 60)
        extra = self.patient_rows_extra
        order = ("appointment", "encounter", "diagnosis", "lab_order", "lab_result", "prescription",
                 "prescription_item", "invoice", "invoice_line", "payment", "review")
        tables = {"appointment": Appointment, "encounter": Encounter, "diagnosis": Diagnosis,
                  "lab_order": LabOrder, "lab_result": LabResult, "prescription": Prescription,
                  "prescription_item": PrescriptionItem, "invoice": Invoice,
                  "invoice_line": InvoiceLine, "payment": Payment, "review": Review}
        patients = self.patients
        for chunk_start in range(0, len(patients), CHUNK):
            visits = self.visit_rows(self.chunk_appts.pop(chunk_start // CHUNK, []))
            rows = []
            for p in patients[chunk_start:chunk_start + CHUNK]:
                email, address, national_id, insurance, blood, allergies, contact, contact_phone = extra[p.id - 1]
                if p.first_visit is not None:
                    created = p.first_visit - timedelta(minutes=rng.randint(0, 3 * 24 * 60))
                else:
                    created = now - timedelta(minutes=rng.randint(60, history_minutes))
                rows.append(dict(
                    id=p.id, code=p.code, full_name=p.full_name, search_text=patient_search_text(p),
                    date_of_birth=p.dob, sex=p.sex, phone=p.phone, email=email, address=address,
                    national_id=national_id, insurance_number=insurance, blood_type=blood, allergies=allergies,
                    emergency_contact_name=contact, emergency_contact_phone=contact_phone, user_id=None,
                    created_at=created, updated_at=created))
            self.insert(Patient.__table__, rows)
            for name in order:
                self.insert(tables[name].__table__, visits.get(name, []))
            if self.progress is not None:
                self.progress(len(rows))

    def fix_sequences(self) -> None:
        """Ids were given explicitly: move PostgreSQL's sequences past them."""
        bind = self.session.get_bind()
        if bind.dialect.name != "postgresql":
            return
        for table in (Department, Specialty, Service, Doctor, Employee, WorkSchedule, ScheduleException, Medicine,
                      StockBatch, StockMovement, Patient, Appointment, Encounter, Diagnosis, LabOrder, LabResult,
                      Prescription, PrescriptionItem, Invoice, InvoiceLine, Payment, Review):
            name = table.__tablename__
            self.session.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"(SELECT MAX(id) FROM {bind.dialect.identifier_preparer.quote(name)}))"))
