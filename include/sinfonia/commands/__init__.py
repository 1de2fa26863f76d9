"""What each ``sinfonia`` command does, and the lines it prints.

``table`` lists the commands and their arguments (``cli`` builds the parser from it); the commands
that run DAGs are in ``dags``, those that write files for people in ``files``, those that serve the
warehouse or Airflow in ``servers``; ``output`` composes the lines they print. The work itself
(SQL, the warehouse, the DAGs) belongs to the modules that own it.
"""
