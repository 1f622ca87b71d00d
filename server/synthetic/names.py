"""Vietnamese personal names for the synthetic register.

Why a table of weights and not a flat list: the duplicate detector and the search
need the *collisions* that real registers have ("Nguyễn Văn Hùng" several times in
a commune, "Nguyễn Thị Hương" everywhere), so surnames follow their national
frequencies and given names a skewed, Zipf-like weight.

Sources and assumptions (weights are percentages or relative weights):

* Kinh surnames: the frequencies commonly cited from population registers
  (Nguyễn ≈ 38 %, Trần ≈ 11 %, Lê ≈ 9.5 %, Phạm ≈ 7 %, Hoàng/Huỳnh ≈ 5 %, Phan ≈ 4.5 %,
  Vũ/Võ ≈ 3.9 %, Đặng ≈ 2.1 %, Bùi ≈ 2 %, Đỗ ≈ 1.4 %, Hồ ≈ 1.3 %, Ngô ≈ 1.3 %,
  Dương ≈ 1 %, Lý ≈ 0.5 %), with the north/south split of Hoàng/Huỳnh and Vũ/Võ
  (the southern forms arose from a naming taboo) applied by region.
* Middle names: "Văn" and "Thị" dominate older cohorts and are less common among
  people born since the 1980s, who get Minh, Gia, Bảo, Khánh, Ngọc, Phương…
* Ethnic minorities: the clan names typical of each group (Tày/Nùng: Hoàng, Nông,
  Lục, Bế…; Thái: Lò, Lường, Cầm, Quàng…; Mông: Giàng, Sùng, Vàng, Thào…; Dao:
  Triệu, Bàn, Đặng…; Mường: Bùi, Đinh, Quách…; Khmer: Thạch, Sơn, Kim, Danh…;
  Hoa: Lâm, Trương, Lý, Quách…). Ê Đê and Gia Rai (matrilineal) put the clan name
  last or first with the Y/H' prefixes; Ba Na, Xơ Đăng and Giẻ Triêng in Kon Tum
  often use A (men) / Y (women) and no family name. These are stylised: good enough
  to exercise name folding and ordering, not an ethnographic record.

All strings are normalised to NFC once at import, so a name typed here with
combining marks never differs from the same name typed precomposed.
"""

from __future__ import annotations

import bisect
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


class Weighted(Generic[T]):
    """A fixed weighted choice, picked with one uniform number (fast, no allocation)."""

    __slots__ = ("_cum", "_items", "_total")

    def __init__(self, pairs: Sequence[tuple[T, float]]) -> None:
        items: list[T] = []
        cum: list[float] = []
        total = 0.0
        for item, weight in pairs:
            if weight <= 0:
                continue
            total += weight
            items.append(item)
            cum.append(total)
        if not items:
            raise ValueError("no positive weight")
        self._items = items
        self._cum = cum
        self._total = total

    def pick(self, u: float) -> T:
        """The item for a uniform ``u`` in [0, 1)."""
        return self._items[bisect.bisect_right(self._cum, u * self._total)]

    def items(self) -> list[T]:
        return list(self._items)

    def share(self, item: T) -> float:
        total = 0.0
        prev = 0.0
        for it, c in zip(self._items, self._cum, strict=True):
            if it == item:
                total += c - prev
            prev = c
        return total / self._total


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _parse(spec: str) -> list[tuple[str, float]]:
    """``"Nguyễn 38, Trần 11"`` → pairs; a missing weight counts 1."""
    out = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        name, _, weight = part.rpartition(" ")
        if name and weight.replace(".", "", 1).isdigit():
            out.append((_nfc(name), float(weight)))
        else:
            out.append((_nfc(part), 1.0))
    return out


def _w(spec: str) -> Weighted[str]:
    return Weighted(_parse(spec))


# -- Kinh ---------------------------------------------------------------------------

_KINH_COMMON = (
    "Nguyễn 38, Trần 11, Lê 9.5, Phạm 7, Phan 4.5, Đặng 2.1, Bùi 2, Đỗ 1.4, Hồ 1.3, "
    "Ngô 1.3, Dương 1, Lý 0.5, Đinh 0.6, Đào 0.5, Đoàn 0.5, Lâm 0.4, Mai 0.4, Trịnh 0.4, "
    "Trương 0.5, Lương 0.3, Cao 0.3, Tạ 0.2, Hà 0.4, Lưu 0.2, Chu 0.2, Kiều 0.1, Tô 0.2, "
    "Thái 0.1, Phùng 0.2, Quách 0.1, Triệu 0.15, Vương 0.15, Tăng 0.1, Lại 0.1, Thân 0.1, "
    "Giang 0.1, Châu 0.1, Tống 0.1, Đàm 0.1, Lã 0.05, Phí 0.05, Ninh 0.05, Đồng 0.05, "
    "Âu 0.05, Mạc 0.05, Hứa 0.05, Doãn 0.05, Khúc 0.05, Nghiêm 0.05, Từ 0.05, Kim 0.05, "
    "Văn 0.05, Cù 0.03, Khổng 0.03, Ông 0.03, Bạch 0.03, Hàn 0.03, Diệp 0.03, Quan 0.03"
)
KINH_SURNAMES = {
    "north": _w(_KINH_COMMON + ", Hoàng 4.5, Huỳnh 0.4, Vũ 3.4, Võ 0.5"),
    "central": _w(_KINH_COMMON + ", Hoàng 2.5, Huỳnh 2.5, Vũ 1.2, Võ 2.7"),
    "south": _w(_KINH_COMMON + ", Hoàng 0.8, Huỳnh 4.2, Vũ 0.5, Võ 3.4"),
}

MALE_MIDDLE_OLD = _w(
    "Văn 55, Đức 6, Hữu 5, Xuân 4, Quang 4, Đình 4, Công 4, Minh 4, Ngọc 3, Thanh 3, "
    "Bá 2, Trọng 2, Thế 2, Viết 1.5, Tiến 1.5, Duy 1, Khắc 1, Như 0.5, Kim 0.5, Phú 0.5")
MALE_MIDDLE_NEW = _w(
    "Văn 30, Đức 8, Minh 8, Quang 5, Hữu 4, Thanh 4, Công 4, Quốc 3, Tuấn 3, Ngọc 3, "
    "Xuân 3, Đình 3, Hoàng 3, Anh 3, Duy 3, Gia 3, Trung 2, Thành 2, Mạnh 2, Tiến 2, "
    "Bảo 2, Đăng 2, Nhật 2, Hải 2, Thế 2, Khánh 1.5, Huy 1")
FEMALE_MIDDLE_OLD = _w(
    "Thị 80, Ngọc 3, Thu 3, Thanh 3, Kim 3, Hồng 2, Minh 1, Bích 1, Xuân 1, Thúy 1, "
    "Mỹ 1, Diệu 0.5")
FEMALE_MIDDLE_NEW = _w(
    "Thị 40, Ngọc 6, Thu 5, Phương 4, Thanh 4, Minh 4, Kim 3, Bảo 3, Khánh 3, Hồng 3, "
    "Hải 2, Mai 2, Diệu 2, Quỳnh 2, Thảo 2, Hà 2, Thùy 2, Huyền 2, Mỹ 2, Gia 1.5, "
    "Hoài 1, Lan 1, Tuệ 1, An 1")
FEMALE_SECOND_MIDDLE = _w(
    "Thu 5, Ngọc 5, Thanh 4, Minh 3, Phương 3, Hồng 3, Kim 2, Mai 2, Diệu 2, Bảo 2, "
    "Quỳnh 1, Hoài 1")

# given names tagged by cohort: o = mostly older people, y = mostly younger
_MALE_GIVEN = (
    "Hùng 4, Dũng 4, Nam 3.5, Tuấn 3.5, Minh 3.5, Anh 3.5, Hải 3, Long 3, Sơn 3, "
    "Thắng 3, Cường 3, Huy 3, Hoàng 2.5, Đức 2.5, Trung 2.5, Hiếu 2.5, Thành 2.5, Tùng 2.5, "
    "Bình 2.5, Quang 2, Phong 2, Toàn 2, Kiên 2, Tiến 2, Vinh 2, Hưng 2, Quân 2, Đạt 2, "
    "Khoa 1.5, Tâm 1.5, Lâm 1.5, Lợi 1.5, Hòa 1.5, Phúc 1.5, Thịnh 1.5, Khánh 1.5, Duy 1.5, "
    "Việt 1.5, Nghĩa 1.5, Chiến 1.5, Bảo 1.5, Thanh 1.5, Mạnh 1.5, Hậu 1, Tú 1, Hiệp 1, "
    "Hào 1, Quý 1, Tài 1, Trọng 1, Thái 1, Thuận 1, Tín 1, Khôi 1, Phát 1, Nhân 1, Lộc 1, "
    "Định 1, Sang 1, Trí 1, Đông 1, Vũ 1, Thọ 1, Cảnh 0.5, Lực 0.5, Tuyên 0.5, Hoan 0.5, "
    "Luân 0.5, Khải 0.5, Khang 0.8, An 0.8"
)
_MALE_OLD = {"Thọ", "Cảnh", "Lực", "Tuyên", "Hoan", "Thắng", "Hùng", "Dũng", "Bình", "Lợi",
             "Hòa", "Chiến", "Định", "Đông", "Thuận"}
_MALE_YOUNG = {"Khoa", "Khôi", "Phát", "Bảo", "Quân", "Khang", "An", "Huy", "Đạt", "Duy",
               "Nhân", "Khánh", "Lâm", "Phúc"}
_FEMALE_GIVEN = (
    "Hương 4, Linh 4, Trang 4, Lan 3.5, Mai 3.5, Hoa 3, Hà 3, Thảo 3, Huyền 3, Hằng 3, "
    "Phương 3, Thủy 3, Anh 3, Ngọc 2.5, Nhung 2.5, Yến 2.5, Dung 2.5, Hạnh 2.5, Nga 2.5, "
    "Hiền 2.5, Hồng 2.5, Loan 2, Oanh 2, Vân 2, Thu 2, Liên 2, Thúy 2, Chi 2, Quỳnh 2, "
    "Ngân 2, Giang 2, Tuyết 1.5, Nhàn 1.5, Xuân 1.5, Uyên 1.5, Vy 1.5, Nhi 1.5, My 1.5, "
    "Tâm 1.5, Huệ 1.5, Duyên 1.5, Ly 1.5, Thư 1.5, Thanh 1.5, Phượng 1.5, Trâm 1, Hậu 1, "
    "Lý 1, Nguyệt 1, Thơm 1, Cúc 1, Đào 1, Hân 1, Khánh 1, Châu 1, Diễm 1, Lệ 1, Thắm 1, "
    "An 1, Lụa 0.7, Mến 0.7, Sen 0.7, Tươi 0.7, Kim 0.7, Bích 0.7, Hoài 0.7, Nụ 0.5, "
    "Gấm 0.5, Diệp 0.5, Lành 0.5, Hảo 0.5, Tình 0.5, Bình 0.5, Vui 0.3"
)
_FEMALE_OLD = {"Thơm", "Cúc", "Đào", "Lụa", "Mến", "Nụ", "Sen", "Tươi", "Gấm", "Lành", "Hảo",
               "Tình", "Thắm", "Vui", "Nhàn", "Huệ", "Lý", "Bình", "Xuân", "Liên", "Nga"}
_FEMALE_YOUNG = {"Vy", "Nhi", "My", "Uyên", "Chi", "Quỳnh", "Ngân", "Trâm", "Hân", "Khánh",
                 "Châu", "Thư", "Ly", "An", "Diệp", "Linh", "Trang"}


def _cohort(spec: str, old: set[str], young: set[str], want_old: bool) -> Weighted[str]:
    pairs = []
    for name, weight in _parse(spec):
        if name in old:
            weight *= 2.0 if want_old else 0.4
        elif name in young:
            weight *= 0.4 if want_old else 2.0
        pairs.append((name, weight))
    return Weighted(pairs)


MALE_GIVEN_OLD = _cohort(_MALE_GIVEN, _MALE_OLD, _MALE_YOUNG, True)
MALE_GIVEN_NEW = _cohort(_MALE_GIVEN, _MALE_OLD, _MALE_YOUNG, False)
FEMALE_GIVEN_OLD = _cohort(_FEMALE_GIVEN, _FEMALE_OLD, _FEMALE_YOUNG, True)
FEMALE_GIVEN_NEW = _cohort(_FEMALE_GIVEN, _FEMALE_OLD, _FEMALE_YOUNG, False)

# -- name styles by ethnic group -------------------------------------------------------


@dataclass(frozen=True)
class NameStyle:
    """How one group composes a full name.

    pattern: ``family`` (family, middle, given — Kinh order), ``clan_last``
    (prefix + given + clan, Ê Đê), ``clan_first`` (clan + [H'] given, Gia Rai),
    ``prefix`` (A/Y or K'/Ka + given, no family name).
    """

    pattern: str
    surnames: Weighted[str] | None
    male_middle: Weighted[str] | None = None
    female_middle: Weighted[str] | None = None
    male_given: Weighted[str] | None = None   # None: Kinh given names by cohort
    female_given: Weighted[str] | None = None
    local_share: float = 0.0                  # share of local given names vs Kinh ones
    male_prefix: str = ""
    female_prefix: str = ""
    matrilineal: bool = False


_VT_OLD = _w("Văn 85, Đức 3, Minh 2, Xuân 2, Ngọc 2, Quang 2")
_T_OLD = _w("Thị 92, Ngọc 2, Thu 2, Kim 2")

STYLES: dict[str, NameStyle] = {
    "tay_nung": NameStyle("family", _w(
        "Hoàng 20, Nông 15, Lương 6, Triệu 6, Lục 5, Bế 5, Hà 6, Đàm 4, Ma 4, Vi 4, Lăng 3, "
        "Chu 3, La 3, Mông 2, Lý 3, Dương 3, Hứa 2, Nguyễn 6, Đinh 2, Sầm 1, Hầu 1, Lộc 2"),
        _VT_OLD, _T_OLD),
    "thai": NameStyle("family", _w(
        "Lò 18, Lường 12, Hà 10, Cầm 8, Quàng 8, Tòng 6, Vì 6, Lù 5, Điêu 4, Lê 4, "
        "Hoàng 4, Bạc 3, Vi 3, Mè 2, Sa 2, Lộc 2"), _VT_OLD, _T_OLD,
        _w("Pọm, Xiêng, Ín, Panh, Xôm, Hặc, Phóng, Lả, Thương, Chiến, Dũng, Thanh, Quyết, "
           "Hương, Sơn, Bun, Khăm, Ón, Tiến, Hùng"),
        _w("Ín, Ón, Xuân, Hom, Xiêng, Biên, Pâng, Thoa, Doan, Ánh, Ơn, Lả, Panh, Hương, "
           "Thủy, Mai, Thảo, Hoa, Lan, Bun"), 0.5),
    "mong": NameStyle("family", _w(
        "Giàng 18, Sùng 14, Vàng 14, Thào 12, Lý 10, Mùa 8, Hạng 6, Lầu 5, Vừ 5, Chá 3, "
        "Sình 2, Cứ 2, Hờ 2, Tráng 2, Mua 2"), _w("A 35, Seo 20, Văn 20, Mí 10, Chứ 5"),
        _w("Thị 90, Seo 5, Mỷ 5"),
        _w("Páo, Sử, Chứ, Dế, Pó, Sình, Dủa, Của, Lử, Chả, Tủa, Vừ, Sính, Chính, Lềnh, Dìa, "
           "Thề, Chu, Dơ, Tú, Minh, Phử, Sàng, Súa"),
        _w("Mỷ, Dợ, Mai, Chở, Máy, Sua, Mỉ, Dung, Pằng, Mua, Chi, Say, Lan, Xua, Sinh, Ly, "
           "Dính, Ca, Chúa, Pà"), 0.85),
    "dao": NameStyle("family", _w(
        "Triệu 25, Bàn 20, Đặng 15, Lý 12, Phùng 6, Chảo 6, Tẩn 4, Dương 3, Hoàng 3, Lò 2"),
        _w("Văn 60, Tài 10, Kim 5, Phúc 5, Quý 5, Đức 5, Sành 5, Chàn 5"),
        _w("Thị 80, Mùi 5, Kim 5, Xuân 5, Mai 5"),
        _w("Tòn, Kiểm, Chòi, Dìn, Phin, Quẩy, Sáng, Thăng, Minh, Vượng, Lưu, Phú, Tiến, "
           "Hùng, Quyết, Tá, Vần, Sinh, Chiêu, Lai"),
        _w("Mẩy, Phin, Dín, Lan, Mai, Nải, Chiêu, Phấy, Liên, Hoa, Sinh, Kiều, Xiêm, Ngân, "
           "Mùi, Pham"), 0.5),
    "muong": NameStyle("family", _w(
        "Bùi 35, Đinh 20, Quách 10, Hà 8, Xa 5, Trương 4, Nguyễn 5, Cao 2, Bạch 3, Lê 3, "
        "Hoàng 2"), _VT_OLD, _T_OLD),
    "khmer": NameStyle("family", _w(
        "Thạch 30, Sơn 20, Kim 12, Danh 12, Lâm 6, Châu 5, Trần 4, Lý 4, Huỳnh 3, "
        "Dương 2, Nguyễn 2, Mai 1"), _w("Văn 60, Thanh 10, Sóc 10, Sa 10, Minh 10"),
        _w("Thị 75, Sa 10, Sóc 5, Ngọc 5, Kim 5"),
        _w("Sang, Chanh Đa, Sô Phal, Sóc Khon, Rết, Vy, Pu Thi, Ne, Khem, Rinh, Phát, "
           "Sà Rươne, Mây, Thol, Chanh, Dên, Rên, Sóc Ra"),
        _w("Sa Rươl, Sóc Phi, Sa Ra, Chanh Thu, Ra Ni, Sa Quy, Phia, Sa Vy, Mách, Nang, "
           "Thi, Sóc Kha, Ngọc, Liên, Hoa, Thy"), 0.5),
    "hoa": NameStyle("family", _w(
        "Lâm 12, Trương 10, Lý 10, Quách 6, Trần 6, Mã 5, Tăng 5, Hứa 5, Lưu 5, Hoàng 5, "
        "Huỳnh 4, Vương 4, Châu 4, La 4, Diệp 3, Thái 3, Lương 3, Tạ 3, Giang 2, Tô 2, "
        "Phùng 2, Quan 2"),
        _w("Văn 25, Quốc 15, Gia 15, Vĩnh 10, Chí 10, Kiến 5, Minh 10, Tuấn 5, Thành 5"),
        _w("Thị 30, Mỹ 15, Tuyết 10, Ngọc 15, Bảo 10, Gia 10, Huệ 5, Kim 5")),
    "cham": NameStyle("family", _w(
        "Đàng 20, Lưu 10, Quảng 10, Thông 8, Phú 8, Thuận 6, Hán 6, Bá 5, Châu 5, "
        "Nguyễn 8, Từ 4, Thiên 4, Trượng 3, Sử 3"), _VT_OLD, _T_OLD),
    "ra_glai": NameStyle("family", _w(
        "Chamaléa 30, Katơr 20, Pinăng 20, Mấu 10, Bo Bo 10, Patâu Á 5, Cà Mau 5"),
        _VT_OLD, _T_OLD),
    "jarai": NameStyle("clan_first", _w(
        "Ksor 20, Siu 18, Rơ Châm 14, Rah Lan 12, Nay 12, Kpă 8, Rơ Mah 8, Puih 5, "
        "Rơ Lan 3"), None, None,
        _w("Blơi, Ngưi, Blim, Tơ, Hyưn, Nuê, Hra, Phiu, Thuân, Kơ, Đinh, Yăk, Nhiu, Thông, "
           "Dũng, Hùng"),
        _w("Blin, Bia, Yên, Mai, Hen, Lim, Hoa, Nhi, Phi, Ngơn, Thi, Lan, Dun, Jin"), 1.0,
        female_prefix="H'", matrilineal=True),
    "ede": NameStyle("clan_last", _w(
        "Niê 25, Êban 20, Mlô 12, Ayŭn 10, Byă 8, Êñuôl 6, Hmok 5, Kbuôr 5, Adrơng 4, "
        "Knul 3, Mja 2"), None, None,
        _w("Đhăm, Moan, Blu, Tlang, Jôn, Kŭ, Nguôn, Siêng, Phương, Ju, Bhin, Tuih, Thuăt, "
           "Dhun, Hiu"),
        _w("Hen, Mai, Bia, Yim, Dưi, Linh, Juin, Hoa, Xuân, Nhi, Lan, Blơ, Ami"), 1.0,
        male_prefix="Y", female_prefix="H'", matrilineal=True),
    "kontum": NameStyle("prefix", None, None, None,
        _w("Thuân, Hơ, Bâu, Rin, Dôn, Hiu, Phiên, Lép, Ju, Kơ, Tuih, Nhơ, Blong, Khoa, "
           "Dũng, Nam, Hùng, Tâm"),
        _w("Blin, Nhung, Kim, Hoa, Lan, Nga, Hiên, Ly, Mai, Phương, Rin, Ngọc, Thanh"), 1.0,
        male_prefix="A", female_prefix="Y"),
    "mnong": NameStyle("prefix", None, None, None,
        _w("K'Lương, Brông, Bốp, Lập, Dơng, Ghiêng, Kông, Thông, Dũng, Ngân"),
        _w("Lim, Huê, Biên, Thơ, Hoa, Ngọc, Yên, Bích, Lan, Mai"), 1.0,
        male_prefix="Điểu", female_prefix="Thị"),
    "co_ho": NameStyle("prefix", None, None, None,
        _w("Brèo, Điều, Sơn, Ha Ni, Bơ, Ju, Krir, Tâm, Dũng, Lâm"),
        _w("Hoa, Bích, Lan, Thị, Liên, Ri, Phương, Dung, Hiên, Mai"), 1.0,
        male_prefix="K'", female_prefix="Ka", matrilineal=True),
    "highland_family": NameStyle("family", _w(
        "Đinh 30, Hồ 15, Phạm 10, Nguyễn 5, Hôih 5, Bh'riu 5, Alăng 5, Coor 5, Kray 3, "
        "Zơrâm 3, Pơloong 3"), _VT_OLD, _T_OLD),
}

# Which style each ethnic group (internal code) uses; unlisted groups use the Kinh style.
ETHNIC_STYLE: dict[str, str] = {
    "tay": "tay_nung", "nung": "tay_nung", "san_chay": "tay_nung", "san_diu": "tay_nung",
    "giay": "tay_nung", "bo_y": "tay_nung", "pa_then": "tay_nung",
    "thai": "thai", "lao": "thai", "lu": "thai", "kho_mu": "thai", "xinh_mun": "thai",
    "mong": "mong", "ha_nhi": "mong", "la_chi": "mong", "lo_lo": "mong", "phu_la": "mong",
    "dao": "dao", "muong": "muong", "tho": "muong", "chut": "muong",
    "khmer": "khmer", "hoa": "hoa", "ngai": "hoa", "cham": "cham", "ra_glai": "ra_glai",
    "chu_ru": "ra_glai",
    "gia_rai": "jarai", "e_de": "ede", "mnong": "mnong", "xtieng": "mnong", "ma": "co_ho",
    "co_ho": "co_ho", "cho_ro": "mnong",
    "ba_na": "kontum", "xo_dang": "kontum", "gie_trieng": "kontum", "brau": "kontum",
    "ro_mam": "kontum",
    "hre": "highland_family", "co": "highland_family", "co_tu": "highland_family",
    "ta_oi": "highland_family", "bru_van_kieu": "highland_family",
}


# -- village names -----------------------------------------------------------------------


def _names(spec: str) -> list[str]:
    return [_nfc(n.strip()) for n in spec.split(",")]


THON_NAMES = _names(
    "Đông, Đoài, Nam, Bắc, Trung, Thượng, Hạ, Chùa, Đình, Mới, An Lạc, An Thái, Phú Mỹ, "
    "Phú Lương, Hòa Bình, Tân Lập, Tân Thành, Quyết Tiến, Thắng Lợi, Đồng Tâm, Đoàn Kết, "
    "Yên Phú, Văn Phong, Hưng Đạo, Xuân Dục, Đại Đồng, Cao Xá, Ngọc Lâm, Lạc Thị, Thọ Vực, "
    "Phương Đình, Vĩnh Lộc, Bình Minh, Đông Hải, La Tiến, Thanh Xuân, Kim Lũ, Cổ Am, "
    "Tiên Hội, Lê Xá, Nội Am, Phú Thọ, Lương Xá, Đa Ngưu, An Cầu, Tây Hồ, Hậu Trạch")
BAN_NAMES = _names(
    "Na Hang, Nà Khương, Pác Bó, Co Mạ, Huổi Só, Phiêng Lanh, Nậm Cang, Tà Xùa, Khuổi Nọi, "
    "Nà Sản, Hua Pá, Pá Vạt, Mường Chiến, Tà Phìn, Sín Chải, Lao Chải, Cán Tỷ, Lùng Tám, "
    "Nà Phặng, Hát Lót, Bó Mạy, Nà Tấu, Co Lóng, Pú Nhi, Huổi Một, Nậm Ty, Phiêng Ban, "
    "Tông Cọ, Nà Lự, Lũng Pù, Khau Vai, Nà Hẩu")
BUON_NAMES = _names(
    "Buôn Đôn, Buôn Ako Dhông, Buôn Tơng Jú, Buôn Kô Siêr, Buôn Trấp, Buôn Ea Nao, Buôn Jun, "
    "Buôn Ky, Buôn Kmrơng Prông, Buôn Tría, Bon Bu Sir, Bon Đắk Rla")
PLEI_NAMES = _names(
    "Plei Ơi, Plei Kần, Plei Phun, Plei Mun, Làng Kon Klor, Làng Kon Tu, Làng Đăk Rơ Wa, "
    "Làng Plei Tơ Nghia, Làng Kép, Làng Ia Kênh, Làng Đê Kjiêng, Plei Rơ Ngol")
AP_NAMES = _names(
    "Bình Thạnh, Phú Hòa, Mỹ Lợi, Tân Hưng, Long Thạnh, Hòa Lợi, Thạnh Phú, An Bình, "
    "Cây Gòn, Rạch Sỏi, Kinh Xáng, Vĩnh Hòa, Trà Cú, Sóc Ớt, Prey Chóp, Ô Chưm, Bà Bèo, "
    "Mỹ Phước, Tân Quy, Đầu Giồng, Long Hưng, Phước Lợi")

# where people move to or come from, by scope (free text on the slip)
PLACES_OTHER_PROVINCE = _names(
    "TP Hồ Chí Minh, Hà Nội, Bình Dương, Đồng Nai, Bắc Ninh, Hải Phòng, Đà Nẵng, "
    "Thái Nguyên, Bắc Giang, Long An, Cần Thơ, Quảng Ninh, Khánh Hòa, Lâm Đồng")
PLACES_ABROAD = _names(
    "Nhật Bản, Hàn Quốc, Đài Loan, Hoa Kỳ, Úc, Đức, Lào, Campuchia, Trung Quốc")
