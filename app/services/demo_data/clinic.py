"""The demo clinic: departments, specialties, services, doctors, staff and their weekly hours, and
which departments each patient group visits."""
from __future__ import annotations

from datetime import time

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
# Offered at the clinic and by video call; about a third of their coming bookings are video visits.
VIDEO_SERVICES = ("TV-DD", "KB-DL")
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
