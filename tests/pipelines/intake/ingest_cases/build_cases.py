"""Build the bad-input corpus for ingestion: one folder per case, each holding the small
file(s) that differ from ``baseline/`` and ``expected.yaml`` with the exact outcome.

The files are committed; this script documents how each was made and rebuilds them
(`python tests/pipelines/intake/ingest_cases/build_cases.py`). Expected outcomes are written
by hand here, from the rules, not copied from a run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import yaml
from openpyxl import Workbook

from simulator import codes

HERE = Path(__file__).resolve().parent

# Six registered enterprises (valid USCCs from the simulator's generator, checked by stdnum
# in the tests) and two codes that are valid but belong to nobody in the registry.
_IDX = np.arange(6, dtype=np.int64) + 123
_DIV = np.array([440106, 440106, 440305, 440305, 440103, 441900], dtype=np.int64)
USCC = [
    str(u) for u in codes.make_uscc(_IDX, _DIV, np.ones(6, dtype=np.int64), np.zeros(6, dtype=bool))
]
REG_NO = [str(r) for r in codes.make_reg_no(_IDX, _DIV)]
STRANGER = str(
    codes.make_uscc(np.array([99_999_001]), np.array([440106]), np.array([1]), np.array([False]))[0]
)
NAMES = [
    "广州市华鑫贸易有限公司",
    "广州市恒泰科技有限公司",
    "深圳市同名实业有限公司",
    "深圳市同名实业有限公司",  # two registered firms with one name (different authorities)
    "广州市荔湾区德信餐饮管理有限公司",
    "东莞市(大朗)宏达实业有限公司",
]

ENTERPRISE_HEADER = (
    "uscc,name,reg_no,entity_type,legal_form,industry_code,division_code,established_date,"
    "deregistered_date,revoked_date,status,registered_capital,paid_in_capital,employees,address_id,sector_tags"
)


def _enterprise_rows() -> list[str]:
    rows = []
    for i in range(6):
        est = ["2015-03-01", "2016-07-15", "2018-01-10", "2019-05-20", "2020-09-01", "2012-04-04"][
            i
        ]
        rows.append(
            f"{USCC[i]},{NAMES[i]},{REG_NO[i]},enterprise,llc_natural_persons,5211,{_DIV[i]},{est},,,operating,"
            f"100,,5,AD{i:03d},food_distribution"
        )
    return rows


PENALTY_HEADER = (
    "uscc,decision_no,penalty_kind,cause,decision_date,amount,minor,repaired_date,received_date"
)


def penalty(
    uscc: str,
    no: str = "P1",
    kind: str = "fine",
    date: str = "2024-03-05",
    amount: str = "1.5",
    minor: str = "false",
    received: str = "2024-03-12",
) -> str:
    return f"{uscc},{no},{kind},food_safety,{date},{amount},{minor},,{received}"


HEADERS = {
    "annual_reports": "uscc,report_year,submitted_date,received_date,employees,revenue,total_assets,tax_paid,net_profit,social_insurance_count",
    "changes": "uscc,change_kind,change_date,received_date,before_value,after_value",
    "penalties": PENALTY_HEADER,
    "abnormal_list": "uscc,reason,listed_date,received_date,removed_date,removal_reason,removal_received_date",
    "serious_dishonest_list": "uscc,reason,listed_date,received_date,removed_date,removal_reason,removal_received_date",
    "inspections": "inspection_id,uscc,draw_mode,plan_id,stratum,risk_class_at_draw,inclusion_probability,trigger,items,inspection_date,result,problem_found,problem_category,received_date",
    "persons": "person_id,uscc,role,share_pct,from_date,to_date,received_date",
}


def _write(path: Path, text: str, encoding: str = "utf-8") -> None:
    path.write_bytes(text.encode(encoding))


def build_baseline() -> None:
    base = HERE / "baseline"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir()
    _write(base / "enterprises.csv", "\n".join([ENTERPRISE_HEADER, *_enterprise_rows()]) + "\n")
    for table, header in HEADERS.items():
        _write(base / f"{table}.csv", header + "\n")


def case(name: str, expected: dict, files: dict[str, str | bytes] | None = None) -> None:  # type: ignore[type-arg]
    folder = HERE / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for fname, content in (files or {}).items():
        data = content if isinstance(content, bytes) else content.encode("utf-8")
        (folder / fname).write_bytes(data)
    (folder / "expected.yaml").write_text(
        yaml.safe_dump(expected, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )


def penalties_csv(*rows: str, header: str = PENALTY_HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def outcome(read: int, accepted: int, **rules: int) -> dict:  # type: ignore[type-arg]
    return {"tables": {"penalties": {"read": read, "accepted": accepted, "quarantined": rules}}}


def _xlsx(rows: list[list[object]], merge: list[str] | None = None) -> bytes:
    wb = Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    for rng in merge or []:
        ws.merge_cells(rng)
    import io

    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def build_cases() -> None:
    u0, u1, u2, u4, u5 = USCC[0], USCC[1], USCC[2], USCC[4], USCC[5]
    wrong_check = u0[:-1] + ("A" if u0[-1] != "A" else "B")

    case(
        "01_wrong_check_character",
        outcome(2, 1, uscc_checksum=1),
        {"penalties.csv": penalties_csv(penalty(u0, "P1"), penalty(wrong_check, "P2"))},
    )
    case(
        "02_malformed_uscc",
        outcome(3, 1, uscc_format=2),
        {
            "penalties.csv": penalties_csv(
                penalty(u0, "P1"), penalty(u0[:17], "P2"), penalty(u0.replace("0", "O", 1), "P3")
            )
        },
    )
    case(
        "03_reg_no_without_uscc",
        {**outcome(1, 1), "values": {"penalties": {"uscc": [u1]}}},
        {
            "penalties.csv": penalties_csv(
                f",P1,fine,food_safety,2024-03-05,1.5,false,,2024-03-12,{REG_NO[1]}",
                header=PENALTY_HEADER + ",注册号",
            )
        },
    )
    case(
        "04_reg_no_unknown",
        outcome(1, 0, reg_no_unmatched=1),
        {
            "penalties.csv": penalties_csv(
                ",P1,fine,food_safety,2024-03-05,1.5,false,,2024-03-12,440106999999990",
                header=PENALTY_HEADER + ",reg_no",
            )
        },
    )
    case(
        "05_name_only",
        {**outcome(1, 1), "values": {"penalties": {"uscc": [u0]}}},
        {
            "penalties.csv": penalties_csv(
                f",P1,fine,food_safety,2024-03-05,1.5,false,,2024-03-12,{NAMES[0]}",
                header=PENALTY_HEADER + ",企业名称",
            )
        },
    )
    case(
        "06_name_in_fullwidth_brackets",
        {**outcome(1, 1), "values": {"penalties": {"uscc": [u5]}}},
        {
            "penalties.csv": penalties_csv(
                ",P1,fine,food_safety,2024-03-05,1.5,false,,2024-03-12, 东莞市（大朗）宏达实业有限公司　",
                header=PENALTY_HEADER + ",name",
            )
        },
    )
    case(
        "07_ambiguous_name",
        outcome(1, 0, name_ambiguous=1),
        {
            "penalties.csv": penalties_csv(
                f",P1,fine,food_safety,2024-03-05,1.5,false,,2024-03-12,{NAMES[2]}",
                header=PENALTY_HEADER + ",name",
            )
        },
    )
    case(
        "08_name_matches_nobody",
        outcome(1, 0, name_unmatched=1),
        {
            "penalties.csv": penalties_csv(
                ",P1,fine,food_safety,2024-03-05,1.5,false,,2024-03-12,广州市不存在有限公司",
                header=PENALTY_HEADER + ",name",
            )
        },
    )
    zh_header = "统一社会信用代码,行政处罚决定书文号,处罚种类,违法行为类型,处罚决定日期,罚没款金额,是否简易程序(轻微),信用修复日期,归集日期"
    case(
        "09_gb18030_chinese_headers_and_labels",
        {
            **outcome(2, 2),
            "source": {"penalties": {"encoding": "gb18030"}},
            "values": {"penalties": {"penalty_kind": ["fine", "warning"], "minor": [False, True]}},
        },
        {
            "penalties.csv": penalties_csv(
                penalty(u0, "粤穗市监罚〔2024〕1号", kind="罚款", minor="否"),
                penalty(u1, "粤穗市监罚〔2024〕2号", kind="警告", amount="0", minor="是"),
                header=zh_header,
            ).encode("gb18030")
        },
    )
    case(
        "10_utf8_bom",
        {**outcome(1, 1), "source": {"penalties": {"encoding": "utf-8-sig"}}},
        {"penalties.csv": b"\xef\xbb\xbf" + penalties_csv(penalty(u0)).encode()},
    )
    case(
        "11_title_rows_above_header",
        {**outcome(1, 1), "source": {"penalties": {"title_rows": 2}}},
        {
            "penalties.csv": "行政处罚信息导出,,,,\n导出单位：广州市市场监督管理局 导出时间：2024年3月31日,,,\n"
            + penalties_csv(penalty(u0))
        },
    )
    case(
        "12_xlsx_blank_row_and_merged_cells",
        {
            **outcome(4, 2, blank_row=1, required_missing=1),
            "source": {"penalties": {"title_rows": 1, "format": "xlsx"}},
        },
        {
            "penalties.xlsx": _xlsx(
                [
                    ["行政处罚信息(合并单元格标题)"],
                    PENALTY_HEADER.split(","),
                    [
                        u0,
                        "P1",
                        "fine",
                        "food_safety",
                        "2024-03-05",
                        1.5,
                        "false",
                        None,
                        "2024-03-12",
                    ],
                    [None] * 9,
                    # a cell merged down over two rows leaves the second row's penalty_kind empty
                    [
                        u1,
                        "P2",
                        "fine",
                        "food_safety",
                        "2024-03-05",
                        1.5,
                        "false",
                        None,
                        "2024-03-12",
                    ],
                    [u2, "P3", None, "food_safety", "2024-03-06", 2.0, "false", None, "2024-03-12"],
                ],
                merge=["A1:I1", "C5:C6"],
            )
        },
    )
    case(
        "13_mixed_date_formats_one_column",
        {
            **outcome(5, 5),
            "values": {
                "penalties": {
                    "decision_date": [
                        "2021-03-05",
                        "2021-03-06",
                        "2021-03-07",
                        "2021-03-08",
                        "2021-03-09",
                    ]
                }
            },
        },
        {
            "penalties.csv": penalties_csv(
                penalty(u0, "P1", date="2021-03-05"),
                penalty(u0, "P2", date="2021/3/6"),
                penalty(u0, "P3", date="20210307"),
                penalty(u0, "P4", date="2021年3月8日"),
                penalty(u0, "P5", date="44264"),
            )
        },
    )
    case(
        "14_dates_in_the_future",
        outcome(2, 1, after_as_of=1),
        {
            "penalties.csv": penalties_csv(
                penalty(u0, "P1"), penalty(u0, "P2", date="2027-01-05", received="2027-01-09")
            )
        },
    )
    case(
        "15_negative_capital",
        {"tables": {"enterprises": {"read": 6, "accepted": 5, "quarantined": {"out_of_range": 1}}}},
        {
            "enterprises.csv": "\n".join(
                [
                    ENTERPRISE_HEADER,
                    *_enterprise_rows()[:5],
                    _enterprise_rows()[5].replace(",100,,5,", ",-100,,5,"),
                ]
            )
            + "\n"
        },
    )
    case(
        "16_amounts_with_units_and_separators",
        {**outcome(4, 4), "values": {"penalties": {"amount": [1234.5, 12.5, 12.5, 20000.0]}}},
        {
            "penalties.csv": penalties_csv(
                penalty(u0, "P1", amount='"1,234.50"'),
                penalty(u0, "P2", amount="12.5万元"),
                penalty(u0, "P3", amount="125000元"),
                penalty(u0, "P4", amount="2亿元"),
            )
        },
    )
    case(
        "17_exact_duplicates",
        outcome(3, 2, duplicate=1),
        {"penalties.csv": penalties_csv(penalty(u0, "P1"), penalty(u0, "P1"), penalty(u1, "P2"))},
    )
    case(
        "18_key_duplicate_later_receipt_wins",
        {**outcome(2, 1, superseded=1), "values": {"penalties": {"amount": [3.0]}}},
        {
            "penalties.csv": penalties_csv(
                penalty(u0, "P1", amount="1.5"),
                penalty(u0, "P1", amount="3", received="2024-03-20"),
            )
        },
    )
    case(
        "19_key_conflict_same_receipt",
        outcome(3, 1, key_conflict=2),
        {
            "penalties.csv": penalties_csv(
                penalty(u0, "P1", amount="1.5"), penalty(u0, "P1", amount="3"), penalty(u1, "P2")
            )
        },
    )
    case(
        "20_unknown_enterprise",
        outcome(2, 1, unknown_enterprise=1),
        {"penalties.csv": penalties_csv(penalty(u0, "P1"), penalty(STRANGER, "P2"))},
    )
    case("21_empty_file", {"error": "penalties.csv: the file is empty"}, {"penalties.csv": b""})
    case("22_header_only", outcome(0, 0), {"penalties.csv": penalties_csv()})
    case(
        "23_unknown_extra_columns",
        {**outcome(1, 1), "source": {"penalties": {"ignored_columns": ["备注", "经办人"]}}},
        {
            "penalties.csv": penalties_csv(
                penalty(u0) + ",见附件,张三", header=PENALTY_HEADER + ",备注,经办人"
            )
        },
    )
    reordered = (
        "received_date,amount,uscc,decision_date,decision_no,penalty_kind,minor,cause,repaired_date"
    )
    case(
        "24_columns_in_another_order",
        {**outcome(1, 1), "values": {"penalties": {"amount": [1.5]}}},
        {
            "penalties.csv": penalties_csv(
                f"2024-03-12,1.5,{u0},2024-03-05,P1,fine,false,food_safety,", header=reordered
            )
        },
    )
    case(
        "25_very_long_text_field",
        outcome(2, 1, too_long=1),
        {"penalties.csv": penalties_csv(penalty(u0, "P1"), penalty(u0, "P" * 5000))},
    )
    case(
        "26_required_table_missing",
        {"error": "required table penalties", "remove": ["penalties.csv"]},
    )
    case(
        "27_optional_table_absent",
        {
            "tables": {
                "licences": {"status": "absent"},
                "penalties": {"read": 0, "accepted": 0, "quarantined": {}},
            }
        },
    )
    case(
        "28_required_column_missing",
        {"error": "required column penalties.decision_date"},
        {"penalties.csv": "uscc,decision_no,penalty_kind,cause,amount,minor,received_date\n"},
    )
    case(
        "29_undecodable_file",
        {"error": "cannot be decoded"},
        {
            "penalties.csv": PENALTY_HEADER.encode()
            + b"\n"
            + bytes([0x81, 0x20, 0xFF, 0xFE, 0x80, 0x0A])
        },
    )
    case(
        "30_two_files_for_one_table",
        {"error": "two files for table penalties", "keep_baseline": True},
        {"penalties.xlsx": _xlsx([PENALTY_HEADER.split(",")])},
    )
    case(
        "31_event_before_establishment",
        outcome(2, 1, before_establishment=1),
        {
            "penalties.csv": penalties_csv(
                penalty(u0, "P1"), penalty(u4, "P2", date="2019-01-01", received="2019-01-05")
            )
        },
    )
    case(
        "32_received_before_event",
        outcome(1, 0, row_check=1),
        {
            "penalties.csv": penalties_csv(
                penalty(u0, "P1", date="2024-03-05", received="2024-03-01")
            )
        },
    )
    case(
        "33_unknown_code",
        outcome(2, 1, vocabulary=1),
        {
            "penalties.csv": penalties_csv(
                penalty(u0, "P1", kind="fine"), penalty(u0, "P2", kind="记过")
            )
        },
    )
    case(
        "34_fullwidth_uscc",
        {**outcome(1, 1), "values": {"penalties": {"uscc": [u0]}}},
        {
            "penalties.csv": penalties_csv(
                penalty(
                    " "
                    + u0.translate(
                        str.maketrans(
                            "0123456789ABCDEFGHJKLMNPQRTUWXY",
                            "０１２３４５６７８９ＡＢＣＤＥＦＧＨＪＫＬＭＮＰＱＲＴＵＷＸＹ",
                        )
                    )
                    + " ",
                    "P1",
                )
            )
        },
    )
    case(
        "35_unreadable_values",
        outcome(3, 0, bool_format=1, date_format=1, number_format=1),
        {
            "penalties.csv": penalties_csv(
                penalty(u0, "P1", minor="也许"),
                penalty(u0, "P2", date="2021-02-30"),
                penalty(u0, "P3", amount="一千元"),
            )
        },
    )
    case(
        "36_implausible_date",
        outcome(1, 0, date_implausible=1),
        {
            "penalties.csv": penalties_csv(
                penalty(u0, "P1", date="1900-01-01", received="1900-01-02")
            )
        },
    )
    case(
        "37_cells_beyond_the_header",
        outcome(2, 1, extra_cells=1),
        {"penalties.csv": penalties_csv(penalty(u0, "P1"), penalty(u0, "P2") + ",多出的一格")},
    )
    case(
        "38_excel_serial_dates",
        {
            **outcome(1, 1),
            "values": {
                "penalties": {"decision_date": ["2024-03-05"], "received_date": ["2024-03-12"]}
            },
        },
        {
            "penalties.xlsx": _xlsx(
                [
                    PENALTY_HEADER.split(","),
                    [u0, "P1", "fine", "food_safety", 45356, 1.5, "否", None, 45363],
                ]
            )
        },
    )
    insp_header = HEADERS["inspections"]
    case(
        "39_double_random_without_design",
        {"tables": {"inspections": {"read": 2, "accepted": 1, "quarantined": {"row_check": 1}}}},
        {
            "inspections.csv": "\n".join(
                [
                    insp_header,
                    f"JC1,{u0},double_random,SJ1,440106:B,B,0.03,,disclosure;registration,2024-04-10,no_problem,false,,2024-04-20",
                    f"JC2,{u0},double_random,SJ1,440106:B,B,,,disclosure,2024-04-11,no_problem,false,,2024-04-20",
                ]
            )
            + "\n"
        },
    )
    case(
        "40_no_identity_at_all",
        outcome(1, 0, identity_missing=1),
        {"penalties.csv": penalties_csv(penalty("", "P1"))},
    )
    case(
        "41_event_of_a_rejected_registry_row",
        {
            "tables": {
                "enterprises": {"read": 6, "accepted": 5, "quarantined": {"out_of_range": 1}},
                "penalties": {"read": 2, "accepted": 1, "quarantined": {"registry_rejected": 1}},
            }
        },
        {
            "enterprises.csv": "\n".join(
                [
                    ENTERPRISE_HEADER,
                    *_enterprise_rows()[:5],
                    _enterprise_rows()[5].replace(",100,,5,", ",-100,,5,"),
                ]
            )
            + "\n",
            "penalties.csv": penalties_csv(penalty(u0, "P1"), penalty(u5, "P2")),
        },
    )


if __name__ == "__main__":
    build_baseline()
    build_cases()
    print(f"built {len([p for p in HERE.iterdir() if p.is_dir() and p.name[0].isdigit()])} cases")
