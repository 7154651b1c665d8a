"""JSON schemas (YAML) of each family's settings: the config file's sections and the CLI's ``--params``.

``workflow/schemas/config.schema.yaml`` composes them into the workflow's config schema; the CLI checks
``--params`` against the family's own (:func:`neuromodels.core.config.check_section`).
"""
