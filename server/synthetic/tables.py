"""Code values and rates the generator draws from, in one place.

Code values must match ``schemas/codelists/*.json``; the test suite validates every
generated record against its form, so a code that drifts fails there first. The
rates are per person (or per woman, per couple) per year unless said otherwise;
their sources are in the docstring of :mod:`server.synthetic`.
"""

from __future__ import annotations

import bisect

# -- code values ------------------------------------------------------------------------

MODERN_METHODS = frozenset({
    "iud", "pill", "injectable", "implant", "condom", "female_sterilization",
    "male_sterilization", "emergency_pill", "lam",
})
TRADITIONAL_METHODS = frozenset({"periodic_abstinence", "withdrawal", "other_traditional"})
PERMANENT_METHODS = frozenset({"female_sterilization", "male_sterilization"})
SUPPLIED_METHODS = frozenset({"pill", "condom"})  # what a collaborator hands out monthly

# current method of a married woman 15–49 who is not pregnant and not trying to
# conceive, by age band; weights tuned so that, after pregnancies and women trying
# for a child are set to "none", modern prevalence lands near 67 %.
METHOD_MIX_BY_AGE: dict[str, dict[str, float]] = {
    "15-24": {"none": 18, "pill": 24, "condom": 24, "iud": 20, "injectable": 4, "implant": 2,
              "withdrawal": 6, "periodic_abstinence": 2},
    "25-34": {"none": 9, "iud": 33, "pill": 21, "condom": 20, "injectable": 3.5,
              "implant": 1.5, "female_sterilization": 1, "withdrawal": 7,
              "periodic_abstinence": 3, "other_traditional": 0.5},
    "35-44": {"none": 10, "iud": 33, "pill": 17, "condom": 17, "injectable": 3, "implant": 1,
              "female_sterilization": 6, "male_sterilization": 0.4, "withdrawal": 8,
              "periodic_abstinence": 3.5, "other_traditional": 0.6},
    "45-49": {"none": 30, "iud": 24, "pill": 9, "condom": 12, "injectable": 1.5,
              "female_sterilization": 8, "male_sterilization": 0.5, "withdrawal": 10,
              "periodic_abstinence": 4, "other_traditional": 1},
}
POSTPARTUM_MIX = {"iud": 34, "pill": 22, "condom": 24, "injectable": 8, "implant": 4, "lam": 8}
SWITCH_MIX = {"iud": 30, "pill": 25, "condom": 25, "injectable": 10, "implant": 7,
              "female_sterilization": 3}
# why a method is given up outside a planned pregnancy ("want_child" precedes a
# conception; "menopause" and "partner_away" are chosen by age and husband's absence)
STOP_REASONS = {"side_effects": 42, "health": 14, "access": 6, "other": 38}
METHOD_SOURCE = {  # who provided a newly started method
    "pill": {"ctv": 50, "private": 35, "health_station": 15},
    "condom": {"ctv": 55, "private": 35, "health_station": 10},
    "lam": {"ctv": 70, "health_station": 30},
}
CLINICAL_SOURCE = {"health_station": 62, "public_hospital": 14, "mobile_team": 8,
                   "private": 16}
STERILIZATION_SOURCE = {"public_hospital": 80, "mobile_team": 12, "private": 8}
PLACE_OF_BIRTH = {"hospital": 76, "health_station": 14, "private_clinic": 5, "at_home": 4,
                  "other": 1}
PLACE_OF_BIRTH_REMOTE = {"hospital": 45, "health_station": 30, "private_clinic": 2,
                         "at_home": 21, "other": 2}
PRENATAL_SCREENINGS = {"ultrasound": 66, "blood_test": 29, "nipt": 3, "other": 2}
NEWBORN_SCREENINGS = {"heel_prick": 76, "hearing": 18, "congenital_heart": 5, "other": 1}
SCREENING_RESULTS = {"normal": 96.5, "abnormal": 2.5, "pending": 1}
ELDERLY_RESULTS = {"healthy": 40, "chronic_condition": 53, "referred": 5, "other": 2}
DEATH_CAUSES = {"disease": 66, "old_age": 16, "accident": 8, "other": 4, "unknown": 6}
MOVE_SCOPES_OUT = {"same_commune": 15, "other_commune_same_province": 25,
                   "other_province": 52, "abroad": 8}
MOVE_SCOPES_IN = {"same_commune": 15, "other_commune_same_province": 35,
                  "other_province": 48, "abroad": 2}
MARRIAGE_OUT_SCOPES = {"same_commune": 35, "other_commune_same_province": 40,
                       "other_province": 25}

EDUCATION_BY_COHORT: dict[str, dict[str, float]] = {
    # adults by age band; children are placed by school age instead
    "18-24": {"lower_secondary": 14, "upper_secondary": 44, "vocational": 12,
              "college_university": 28, "primary": 2},
    "25-39": {"none": 1.5, "primary": 8, "lower_secondary": 28, "upper_secondary": 32,
              "vocational": 10, "college_university": 19, "postgraduate": 1.5},
    "40-59": {"none": 3, "primary": 18, "lower_secondary": 38, "upper_secondary": 25,
              "vocational": 7, "college_university": 8.5, "postgraduate": 0.5},
    "60+": {"none": 12, "primary": 36, "lower_secondary": 30, "upper_secondary": 14,
            "vocational": 3, "college_university": 4.6, "postgraduate": 0.4},
}

# -- fertility and mortality -----------------------------------------------------------

# Annual hazard of a live birth for a married woman who is exposed (not sterilised,
# not within 15 months of her last birth), by 5-year age band, before the parity
# factor. Calibrated so the crude birth rate comes out near 15 ‰ and the TFR near 2.
MARRIED_FERTILITY = {15: 0.25, 20: 0.2, 25: 0.15, 30: 0.1, 35: 0.05, 40: 0.013, 45: 0.002}
PARITY_FACTOR = (2.2, 1.0, 0.5, 0.3, 0.15)  # parity 0, 1, 2, 3, 4+
PREGNANCY_LOSS = {"miscarriage": 0.08, "abortion": 0.07, "stillbirth": 0.005}

# Annual death probability by age band (lower bound) for women; men × MALE_EXCESS.
# Shaped on Vietnam's life tables (life expectancy ≈ 74) and scaled to ≈ 6.5 ‰.
MORTALITY = ((0, 0.0110), (1, 0.0008), (5, 0.0003), (15, 0.0005), (25, 0.0007),
             (35, 0.0012), (45, 0.0028), (55, 0.0065), (65, 0.016), (75, 0.045),
             (85, 0.13), (95, 0.30))
MALE_EXCESS = 1.7
_MORT_AGES = [a for a, _ in MORTALITY]


def death_rate(age: int, male: bool) -> float:
    rate = MORTALITY[bisect.bisect_right(_MORT_AGES, age) - 1][1]
    return rate * MALE_EXCESS if male else rate


# -- where a commune is: old province ranges of commune codes ---------------------------------

# Commune codes were allotted in province order in 2004 and the 2025 communes keep
# the code of one of the communes they merged, so the code alone tells the (old)
# province. Derived from shared/data/admin_units/dvhcvn_2025-03-01_three_level.json.
_PROVINCE_RUNS = (
    (1, "01"), (688, "02"), (1267, "04"), (1834, "06"), (2200, "08"), (2635, "10"),
    (3124, "11"), (3386, "12"), (3646, "14"), (4249, "15"), (4789, "17"), (4927, "01"),
    (4942, "17"), (5431, "19"), (5971, "20"), (6649, "22"), (7201, "24"), (7888, "25"),
    (8707, "26"), (8973, "01"), (9025, "26"), (9163, "27"), (9538, "01"), (10507, "30"),
    (11296, "31"), (11950, "33"), (12433, "34"), (13285, "35"), (13636, "36"),
    (14320, "37"), (14755, "38"), (16663, "40"), (18073, "42"), (18853, "44"),
    (19330, "45"), (19750, "46"), (20194, "48"), (20335, "49"), (21010, "51"),
    (21550, "52"), (22015, "54"), (22327, "56"), (22741, "58"), (22915, "60"),
    (23281, "62"), (23557, "64"), (24118, "66"), (24611, "67"), (24769, "68"),
    (25195, "70"), (25456, "72"), (25741, "74"), (25993, "75"), (26506, "77"),
    (26734, "79"), (27685, "80"), (28249, "82"), (28756, "83"), (29236, "84"),
    (29542, "86"), (29869, "87"), (30280, "89"), (30733, "91"), (31117, "92"),
    (31318, "93"), (31498, "94"), (31813, "95"), (31999, "96"), (32249, ""),
)
_RUN_STARTS = [s for s, _ in _PROVINCE_RUNS]


def province_of(commune_code: str) -> str:
    """Old province code of a commune code, or "" when unknown."""
    if not (commune_code.isdigit() and len(commune_code) == 5):
        return ""
    i = bisect.bisect_right(_RUN_STARTS, int(commune_code)) - 1
    return _PROVINCE_RUNS[i][1] if i >= 0 else ""


NORTH_MOUNTAINS = frozenset({"02", "04", "06", "08", "10", "11", "12", "14", "15", "17",
                             "19", "20"})
BAN_PROVINCES = frozenset({"02", "04", "06", "10", "11", "12", "14", "17", "20"})
BUON_PROVINCES = frozenset({"66", "67"})
PLEI_PROVINCES = frozenset({"62", "64"})
CITY_PROVINCES = frozenset({"01", "31", "48", "79", "92"})


def region_of(province: str) -> str:
    """north | central | south: for the Hoàng/Huỳnh, Vũ/Võ split and village words."""
    if not province or province < "38":
        return "north"
    if province < "62" or province in {"62", "64", "66", "67", "68"}:
        return "central"
    return "south"


# Ethnic composition by (old) province, percent of population, rounded from the
# 2019 census; the rest is Kinh. Provinces not listed are ≈ 99.5 % Kinh.
PROVINCE_ETHNIC: dict[str, dict[str, float]] = {
    "01": {"muong": 0.7, "tay": 0.3, "hoa": 0.1},
    "02": {"mong": 33, "tay": 23, "dao": 15, "nung": 10, "giay": 2, "la_chi": 1},
    "04": {"tay": 41, "nung": 31, "mong": 11, "dao": 10},
    "06": {"tay": 52, "dao": 17, "nung": 9, "mong": 7},
    "08": {"tay": 26, "dao": 12, "san_chay": 8, "mong": 2, "nung": 1},
    "10": {"mong": 25, "tay": 15, "dao": 14, "giay": 5, "nung": 4, "ha_nhi": 2},
    "11": {"thai": 35, "mong": 35, "kho_mu": 3, "ha_nhi": 1, "lao": 1},
    "12": {"mong": 34, "thai": 33, "dao": 12, "ha_nhi": 4, "giay": 2, "lu": 1},
    "14": {"thai": 53, "mong": 17, "muong": 7, "kho_mu": 1.5, "xinh_mun": 1.5, "dao": 1},
    "15": {"tay": 18, "dao": 12, "mong": 12, "thai": 6, "giay": 1},
    "17": {"muong": 63, "thai": 4, "dao": 2, "tay": 2, "mong": 0.5},
    "19": {"tay": 11, "nung": 5, "san_diu": 4, "san_chay": 3, "dao": 2.5},
    "20": {"nung": 42, "tay": 36, "dao": 4, "san_chay": 1, "hoa": 0.5},
    "22": {"dao": 5, "tay": 3, "san_diu": 1.5, "san_chay": 1.5, "hoa": 0.5},
    "24": {"nung": 4.5, "tay": 2.5, "san_diu": 2, "san_chay": 1.5, "hoa": 1, "dao": 0.5},
    "25": {"muong": 14, "dao": 1},
    "26": {"san_diu": 3},
    "37": {"muong": 2},
    "38": {"muong": 9, "thai": 6, "mong": 0.5},
    "40": {"thai": 10, "kho_mu": 1.5, "mong": 1},
    "44": {"bru_van_kieu": 2},
    "45": {"bru_van_kieu": 9, "ta_oi": 2},
    "46": {"ta_oi": 2, "co_tu": 1},
    "49": {"co_tu": 4, "gie_trieng": 2, "xo_dang": 1.5},
    "51": {"hre": 10, "co": 2, "xo_dang": 2},
    "52": {"ba_na": 2},
    "54": {"e_de": 2.5, "cham": 2, "ba_na": 0.5},
    "56": {"ra_glai": 5},
    "58": {"cham": 12, "ra_glai": 12},
    "60": {"cham": 3, "ra_glai": 1, "hoa": 1},
    "62": {"xo_dang": 24, "ba_na": 12, "gie_trieng": 8, "gia_rai": 5, "brau": 0.1,
           "ro_mam": 0.1},
    "64": {"gia_rai": 29, "ba_na": 12},
    "66": {"e_de": 19, "nung": 4, "tay": 3, "mnong": 2, "gia_rai": 1.5, "mong": 1, "dao": 1},
    "67": {"mnong": 9, "nung": 6, "tay": 5, "mong": 4, "dao": 3.5, "e_de": 1},
    "68": {"co_ho": 12, "ma": 2.5, "nung": 2, "tay": 2, "chu_ru": 1.5, "hoa": 1},
    "70": {"xtieng": 9, "khmer": 2, "nung": 2, "tay": 1.5, "hoa": 1},
    "72": {"khmer": 1},
    "75": {"hoa": 5, "tay": 1, "nung": 1, "cho_ro": 0.5},
    "77": {"hoa": 1, "cho_ro": 0.5},
    "79": {"hoa": 4, "khmer": 0.5, "cham": 0.1},
    "84": {"khmer": 32, "hoa": 0.5},
    "89": {"khmer": 4, "cham": 0.6, "hoa": 0.4},
    "91": {"khmer": 12, "hoa": 2},
    "92": {"khmer": 1.5, "hoa": 1},
    "93": {"khmer": 2, "hoa": 0.5},
    "94": {"khmer": 30, "hoa": 5},
    "95": {"khmer": 8, "hoa": 3},
    "96": {"khmer": 1, "hoa": 1},
}
DEFAULT_ETHNIC = {"hoa": 0.2, "tay": 0.2, "muong": 0.1}
# groups with high fertility and low contraceptive use in the surveys (MICS 2021)
HIGH_FERTILITY_GROUPS = frozenset({"mong", "dao", "ha_nhi", "la_chi", "gia_rai", "ba_na",
                                   "xo_dang", "gie_trieng", "e_de", "mnong", "kho_mu",
                                   "hre", "co", "brau", "ro_mam", "lo_lo", "la_hu"})
