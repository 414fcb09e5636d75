"""The bottom layer: the raw-data contract (``tables``), months (``months``) and the reference
code lists (``reference``). Everything else in the product builds on these; they import nothing
of the product's own."""
