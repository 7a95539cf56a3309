"""Diagnoses (ICD-10) with what goes with them: complaint, examination, plan, medicines, follow-up,
laboratory tests; which diagnoses each department and service sees; past histories."""
from __future__ import annotations

from typing import NamedTuple


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
