"""Modelling: training data and weights (`data`), LightGBM on the feature catalog (`gbm`),
calibration, baselines, sector models (`sectors`), class schemes (`classes`), explanations
(`treeshap`, `explain`), metrics and verification, early warning (`warning`) and
double-random inspection plans (`sampling`).

A pure library: no file I/O and no configuration loading (the stages in `pipelines` do
both); it may import `features.catalog`, never `pipelines`, `service` or `simulator`.
"""
