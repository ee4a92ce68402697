"""Import reports as text for the terminal (Chinese labels, one line per finding).

The numbers come from the report objects the importers return, the same objects the API
serialises, so the CLI and the web upload say the same thing.
"""

from __future__ import annotations

from typing import Any

STATUS_TEXT = {
    "applied": "已写入",
    "dry_run": "试运行（--dry-run），未写入任何数据",
    "refused": "已拒绝，未写入任何数据",
    "running": "正在导入",
    "interrupted": "中断：导入进程在途中终止，未写入任何数据",
}
KIND_TEXT = {
    "geometry": "图形",
    "code": "宗地代码",
    "location": "位置",
    "scope": "权限范围",
    "duplicate": "重复",
    "attribute": "属性",
    "existing": "已有宗地",
    "area": "面积核对",
    "link": "关联",
    "repair": "修复",
}


def _where(lon: float | None, lat: float | None) -> str:
    return f" @ {lon:.5f}, {lat:.5f}" if lon is not None and lat is not None else ""


def _read_lines(read: dict[str, Any] | None) -> list[str]:
    if not read:
        return []
    zone = ""
    if read.get("gk_zone"):
        zone = f"，3° 高斯-克吕格 {read['gk_zone']} 带（{'带号' if read.get('zone_prefixed') else '无带号'}）"
    lines = [
        f"读取: {read['format']} 图层 {read.get('layer') or '-'}，{read['features']} 个要素；"
        f"属性编码 {read.get('encoding') or '由 GDAL 判定'}（{read['encoding_source']}）",
        f"坐标系: {read['crs']}（来源 {read['crs_source']}；文件声明 {read.get('declared_crs') or '无'}）{zone}；"
        f"源基准 {read['source_datum']}",
    ]
    lines += [f"说明: {n}" for n in read.get("notes", [])]
    return lines


def parcel_report_text(report: Any) -> str:
    r = report.to_dict() if hasattr(report, "to_dict") else report
    out = [f"文件 {r['file_name']}（SHA-256 {r['checksum_sha256'][:16]}…，{r['size_bytes']} 字节）"]
    out += _read_lines(r.get("read"))
    m = r.get("mapping")
    if m:
        pairs = "，".join(f"{col} → {fld}" for fld, col in m["columns"].items())
        out.append(f"字段对应（{m['source']}）: {pairs}")
        if m.get("unused"):
            out.append(f"未使用的列: {'，'.join(m['unused'])}")
    ac = r.get("area_check") or {}
    if ac.get("unit"):
        out.append(
            f"面积核对: 列 {ac['column']}，单位 {ac['unit_label']}（{ac['unit_source']}），比较 {ac['compared']} 宗，"
            f"最大差 {ac['max_abs_diff_pct']} %（容差 ±{ac['tolerance_pct']} %）"
        )
    elif ac.get("note"):
        out.append(f"面积核对: {ac['note']}")
    out += [f"说明: {n}" for n in r.get("notes", [])]
    if r.get("error"):
        out.append(f"错误: {r['error']}" + (f"（{r['hint']}）" if r.get("hint") else ""))
        if r.get("proposed_crs") and not r.get("swapped_axes"):
            out.append(f"命令行: 加 --crs {r['proposed_crs']} 重新运行")
    errors = [i for i in r["issues"] if i["severity"] == "error"]
    warnings = [i for i in r["issues"] if i["severity"] == "warning"]
    if errors:
        out.append(f"拒绝的要素（{r['refused']} 个）:")
        out += [
            f"  要素 #{i['index']} {i['code'] or '(无代码)'} [{KIND_TEXT.get(i['kind'], i['kind'])}] {i['reason']}{_where(i['lon'], i['lat'])}"
            for i in errors
        ]
    if r.get("repairs"):
        out.append("修复（--fix，ST_MakeValid）:")
        for f in r["repairs"]:
            change = "无法计算" if f["change_pct"] < 0 else f"{f['change_pct']:.4f} %"
            out.append(
                f"  要素 #{f['index']} {f['code'] or ''}: {f['area_before_m2']:.2f} → {f['area_after_m2']:.2f} 平方米，"
                f"变化 {change}，{'接受' if f['accepted'] else '拒绝'}"
            )
    if warnings:
        out.append(f"提示（{len(warnings)} 条，不影响导入）:")
        out += [
            f"  要素 #{i['index']} {i['code'] or ''} [{KIND_TEXT.get(i['kind'], i['kind'])}] {i['reason']}{_where(i['lon'], i['lat'])}"
            for i in warnings
        ]
    if r.get("holders_registered"):
        out.append(
            f"权利人: {len(r['holders_registered'])} 个统一社会信用代码尚未登记，"
            + ("已" if r["status"] == "applied" else "导入时将")
            + "登记为企业（名称取自权利人列，缺省时待企业年度数据导入补全）: "
            + "，".join(r["holders_registered"][:20]) + ("…" if len(r["holders_registered"]) > 20 else "")
        )
    status = r["status"]
    if status == "applied":
        out.append(
            f"结果: {STATUS_TEXT[status]}：新增 {r['inserted']}，更新 {r['updated']}，不变 {r['unchanged']}"
            f"（导入记录 #{r['import_id']}）"
        )
    elif status == "dry_run":
        out.append(
            f"结果: {STATUS_TEXT[status]}；正式导入将新增 {r['to_insert']}，更新 {r['to_update']}，不变 {r['unchanged']}"
            f"（导入记录 #{r['import_id']}）"
        )
    else:
        out.append(f"结果: {STATUS_TEXT[status]}（导入记录 #{r['import_id']}）")
    return "\n".join(out)


def figures_report_text(report: Any) -> str:
    r = report.to_dict() if hasattr(report, "to_dict") else report
    out = [f"文件 {r['file_name']}（SHA-256 {r['checksum_sha256'][:16]}…，{r['size_bytes']} 字节）"]
    if r.get("sheet"):
        out.append(f"工作表: {r['sheet']}，{r['rows']} 行数据")
    if r.get("columns"):
        out.append("列: " + "，".join(f"{c['header']} → {c['field']}" + (f"（×{c['factor']:g}）" if c.get("factor", 1) != 1 else "")
                                     for c in r["columns"]))
    out += [f"说明: {n}" for n in r.get("notes", [])]
    if r.get("error"):
        out.append(f"错误: {r['error']}" + (f"（{r['hint']}）" if r.get("hint") else ""))
    if r.get("bad_rows"):
        out.append(f"有问题的行（{len({b['row'] for b in r['bad_rows']})} 行）:")
        out += [f"  第 {b['row']} 行 {b['column']} = {b['value']!r}: {b['reason']}" for b in r["bad_rows"]]
    if r.get("warnings"):
        out.append("提示:")
        out += [f"  第 {w['row']} 行 {w['column']}: {w['reason']}" for w in r["warnings"]]
    status = r["status"]
    if status == "applied":
        out.append(
            f"结果: {STATUS_TEXT[status]}：新增年度数据 {r['inserted']}，更新 {r['updated']}，不变 {r['unchanged']}，"
            f"新建企业 {r['enterprises_created']}，跳过的行 {r['skipped_rows']}（导入记录 #{r['import_id']}）"
        )
    elif status == "dry_run":
        out.append(
            f"结果: {STATUS_TEXT[status]}；正式导入将写入 {r['good_rows']} 行，新建企业 {len(r.get('new_enterprises', []))}，"
            f"跳过 {r['skipped_rows']} 行（导入记录 #{r['import_id']}）"
        )
    else:
        out.append(f"结果: {STATUS_TEXT[status]}（导入记录 #{r['import_id']}）")
    return "\n".join(out)


SHEET_KIND_TEXT = {"occupancies": "用地企业", "facts": "开发建设情况"}


def sheet_report_text(report: Any) -> str:
    """The report of a sheet import keyed by 宗地代码 (hggis.io.keyed_sheet), in Chinese."""
    r = report.to_dict() if hasattr(report, "to_dict") else report
    out = [f"{SHEET_KIND_TEXT.get(r['kind'], r['kind'])}导入：文件 {r['file_name']}"
           f"（SHA-256 {r['checksum_sha256'][:16]}…，{r['size_bytes']} 字节）"]
    if r.get("sheet"):
        out.append(f"工作表: {r['sheet']}，{r['rows']} 行数据")
    if r.get("columns"):
        out.append("列: " + "，".join(f"{c['column']} {c['header']}" for c in r["columns"]))
    if r.get("error"):
        out.append(f"错误: {r['error']}" + (f"（{r['hint']}）" if r.get("hint") else ""))
    if r.get("bad_rows"):
        out.append(f"有问题的行（{len(r['bad_row_numbers'])} 行）:")
        out += [f"  第 {b['row']} 行 {b['column']} = {b['value']!r}: {b['reason']}" for b in r["bad_rows"]]
    status = r["status"]
    if status == "applied":
        out.append(f"结果: {STATUS_TEXT[status]}：新增 {r['inserted']}，更新 {r['updated']}，不变 {r['unchanged']}"
                   f"（导入记录 #{r['import_id']}）")
    elif status == "dry_run":
        out.append(f"结果: {STATUS_TEXT[status]}；正式导入将新增 {r['inserted']}，更新 {r['updated']}，"
                   f"不变 {r['unchanged']}（导入记录 #{r['import_id']}）")
    else:
        out.append(f"结果: {STATUS_TEXT[status]}，未写入任何数据（导入记录 #{r['import_id']}）")
    return "\n".join(out)
