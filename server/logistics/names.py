"""What a person reads for the stock figures: measures, holders and sources, Vietnamese
and English, in one place for the monthly report's columns and the names of the
roll-up keys (:func:`server.logistics.cells.key_name`). Method and source names come
from their code lists (``contraceptive_method``, ``distribution_source``). No Flask.
"""

from __future__ import annotations

from a0core.schemas import registry
from a0core.stock import UNSTATED

MEASURES: dict[str, tuple[str, str]] = {
    "opening": ("Tồn đầu kỳ", "Opening balance"),
    "received": ("Nhận trong kỳ", "Received"),
    "received_back": ("Nhận lại từ CTV", "Returned by collaborators"),
    "issued": ("Cấp cho CTV", "Issued to collaborators"),
    "distributed": ("Cấp cho khách hàng", "Handed out to clients"),
    "returned": ("Trả lại", "Returned"),
    "lost": ("Hư hỏng, hết hạn, mất", "Damaged, expired, lost"),
    "adjusted": ("Điều chỉnh kiểm kê", "Count adjustment"),
    "closing": ("Tồn cuối kỳ", "Closing balance"),
    "distributed_3m": ("Cấp cho khách hàng trong 3 tháng gần nhất",
                       "Handed out to clients over the last 3 months"),
    "issued_3m": ("Cấp cho CTV trong 3 tháng gần nhất",
                  "Issued to collaborators over the last 3 months"),
    "days_out": ("Số ngày hết hàng", "Days out of stock"),
    "stocked_out": ("Nơi hết hàng", "Holders stocked out"),
    "holders": ("Số nơi giữ hàng", "Holders"),
    "in_transit": ("Hàng đang chuyển, chưa xác nhận", "In transit, not yet confirmed"),
    "mos": ("Số tháng dự trữ", "Months of stock"),
}
# by source: ``distributed.<source>``, ``value.<source>``
BY_SOURCE = {"distributed": ("Cấp cho khách hàng: {source}", "Handed out to clients: {source}"),
             "value": ("Tiền thu (đồng): {source}", "Receipts (VND): {source}")}
NOT_STATED = ("Không rõ nguồn", "Source not stated")  # UNSTATED: before the form had one
# "" : everything in the unit (collaborators, station and stock in transit)
HOLDERS = {"ctv": ("Cộng tác viên", "Collaborators"),
           "station": ("Trạm y tế xã", "Commune health station"),
           "": ("cả trạm, cộng tác viên và hàng đang chuyển",
                "station, collaborators and stock in transit")}


def _pick(words: tuple[str, str], lang: str) -> str:
    return words[0] if lang == "vi" else words[1]


def column(name: str, lang: str = "vi") -> str | None:
    """A measure (``closing``) or one by source (``distributed.free``); None if unknown."""
    if name in MEASURES:
        return _pick(MEASURES[name], lang)
    measure, _, source = name.partition(".")
    if measure not in BY_SOURCE:
        return None
    code = registry().codelist("distribution_source").get(source)
    if code is None and source != UNSTATED:
        return None
    said = _pick(NOT_STATED if code is None else (code.vi, code.en), lang)
    return _pick(BY_SOURCE[measure], lang).format(source=said)


def method(code: str, lang: str = "vi") -> str | None:
    """A method's name from ``contraceptive_method``."""
    found = registry().codelist("contraceptive_method").get(code)
    return None if found is None else _pick((found.vi, found.en), lang)


def holder(kind: str, lang: str = "vi") -> str | None:
    return _pick(HOLDERS[kind], lang) if kind in HOLDERS else None
