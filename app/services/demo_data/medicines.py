"""The demo pharmacy: medicines with how they are prescribed, paediatric substitutes, suppliers."""
from __future__ import annotations

from typing import NamedTuple


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
    # Three more for the interaction demo (prescribed by hand, not by the seeded visits).
    Med("WAR5", "Warfarin", "Warfarin natri", "5 mg", "Viên nén", "viên", 1_500, "oral", "1", 1, (30,),
        "Uống cùng một giờ mỗi ngày, xét nghiệm INR theo hẹn", False, 0, 100, 36),
    Med("CLA500", "Clarithromycin", "Clarithromycin", "500 mg", "Viên nén bao phim", "viên", 8_500, "oral", "1",
        2, (7, 14), "Uống cách nhau 12 giờ", False, 0, 100, 24),
    Med("SIM20", "Simvastatin", "Simvastatin", "20 mg", "Viên nén bao phim", "viên", 1_200, "oral", "1", 1,
        (30,), "Uống buổi tối", False, 0, 300, 36),
)
# Children get the paediatric form, or nothing, when the adult form is prescribed.
CHILD_SUBSTITUTES = {"PARA500": "PARA250", "AMO500": "AMO250", "AMC625": "AMO250", "CEF500": "AMO250",
                     "MON10": "MON5", "DEX15": "ACE200", "AMB30": "ACE200", "IBU400": "PARA250"}
SUPPLIERS = (
    "Công ty CP Dược Hậu Giang", "Công ty CP Traphaco", "Công ty CP Dược phẩm Imexpharm",
    "Công ty CP Pymepharco", "Công ty TNHH Zuellig Pharma Việt Nam", "Công ty CP Dược phẩm OPC",
    "Công ty CP Xuất nhập khẩu Y tế Domesco",
)
# (contact, phone, lead time in days) of each supplier above.
SUPPLIER_DETAILS = (
    ("Chị Nguyễn Thị Lan, phòng kinh doanh", "+842923891433", 5),
    ("Anh Trần Văn Hùng", "+842438454175", 7),
    ("Chị Lê Thị Mai", "+842773851941", 10),
    ("Anh Phạm Quốc Bảo", "+842573829165", 14),
    ("Chị Võ Thị Hồng, chăm sóc khách hàng", "+842839102650", 3),
    ("Anh Đỗ Minh Tuấn", "+842838777133", 7),
    ("Chị Huỳnh Thị Thu", "+842773859370", 10),
)
