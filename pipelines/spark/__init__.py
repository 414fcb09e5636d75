"""The Spark engine: the same feature SQL, model and explanations on a Spark cluster
(``--engine spark``), for provinces and a national run that outgrow one machine."""
