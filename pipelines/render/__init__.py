"""What people read, shared by the stages that write it: wording, names, charts, HTML pages.

- `pipelines.render.wording`: the fixed text (reports, verification) and THE internal-use
  banner (`BANNER_ZH`, `BANNER_EN`) that every page and export carries.
- `pipelines.render.names`: reference names for codes (divisions, prefectures, industries).
- `pipelines.render.charts`: inline SVG charts (no script, no network).
- `pipelines.render.lacking`: the information groups the data lacked (tables a bureau could
  not deliver), as model cards and reports say them.
- `pipelines.render.html`: the Jinja environment of ``templates/`` and the class colours.

Used by the `report`, `verify` and `train` stages and by the staff service; imports no stage.
"""
